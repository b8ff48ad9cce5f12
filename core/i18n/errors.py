"""Labels of core.ui.errors: what a user sees instead of a traceback."""

LABELS = {
    "errors.unexpected": (
        "Something went wrong. Please try again; if it happens again, tell your administrator "
        "(the details are in the server log, reference {reference}).",
        "出现了问题。请重试;如再次出现,请告知管理员(详情见服务器日志,编号 {reference})。",
    ),
    "errors.busy": (
        "The database is busy with another change (for example a large import), so this step "
        "was not saved. Try again in a moment.",
        "数据库正忙于其他更改(例如大批量导入),此步骤未保存。请稍后再试。",
    ),
}
