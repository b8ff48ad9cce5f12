"""Labels of core.errors.InvalidInput: a form value an input model refused."""

LABELS = {
    "input.error.refused": ("{field}: {problem}.", "{field}:{problem}。"),
    "input.problem.not_settable": ("cannot be set here", "不能在此设置"),
    "input.problem.invalid": ("is not valid", "无效"),
}
