"""The layering the design fixes: only core/ui (and pages) may import streamlit."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module.split(".")[0])
    return names


def test_core_outside_ui_never_imports_streamlit():
    """The application logic runs (and is tested) without Streamlit."""
    offenders = [
        str(path.relative_to(ROOT))
        for path in (ROOT / "core").rglob("*.py")
        if "ui" not in path.relative_to(ROOT / "core").parts[:1]
        and {"streamlit", "streamlit_authenticator", "streamlit_sortables"} & _imports(path)
    ]
    assert offenders == []


def _statements(path: Path) -> list[ast.stmt]:
    """The module's statements, without its imports and docstring."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return [
        node
        for node in tree.body
        if not isinstance(node, ast.Import | ast.ImportFrom)
        and not (isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant))
    ]


def _called(node: ast.AST) -> list[str]:
    return [
        getattr(call.func, "id", getattr(call.func, "attr", ""))
        for call in ast.walk(node)
        if isinstance(call, ast.Call)
    ]


def test_home_runs_the_login_guard_once_before_the_page():
    """Every run starts at Home.py: it ends Streamlit's pages-folder mode, signs the user in
    once, builds the role's menu and only then runs the page, inside the guarded run and
    `user_errors`."""
    statements = _statements(ROOT / "Home.py")
    order = [name for node in statements for name in _called(node)]
    assert order[0] == "end_pages_folder_mode"
    assert order.count("require_user") == 1
    assert order.index("require_user") < order.index("role_navigation") < order.index("run")
    (run,) = [node for node in statements if "run" in _called(node)]
    assert isinstance(run, ast.With)
    assert {_called(item.context_expr)[0] for item in run.items} == {"guarded_run", "user_errors"}


def test_every_page_starts_with_page_setup_which_does_not_sign_in_again():
    """A page's first statement is `page_setup`: it reads the user Home.py's guard let
    through on this run (a page file run on its own runs Home.py in its place)."""
    for path in sorted((ROOT / "pages").glob("*.py")):
        first = _statements(path)[0]
        assert isinstance(first, ast.Assign), path.name
        call = first.value
        assert isinstance(call, ast.Call) and getattr(call.func, "id", "") == "page_setup", (
            path.name
        )


def test_pages_contain_no_sql():
    """Pages are thin: they call services, never query tables themselves."""
    for path in sorted((ROOT / "pages").glob("*.py")) + [ROOT / "Home.py"]:
        imports = _imports(path)
        source = path.read_text(encoding="utf-8")
        assert "sqlalchemy" not in imports and "sqlmodel" not in imports, path.name
        assert not re.search(r"(?<![\w.])select\(|session\.exec|\.execute\(", source), path.name


# --- the module graph: no cycles, no reaching into another module's private names ----------


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _application_modules() -> dict[str, Path]:
    paths = [*(ROOT / "core").rglob("*.py"), *(ROOT / "pages").glob("*.py"), ROOT / "Home.py"]
    return {_module_name(path): path for path in paths if "migrations" not in path.parts}


def _resolve(module: str, modules: dict[str, Path]) -> str | None:
    """The application module an import names (a package import names its __init__)."""
    while module and module not in modules:
        module = module.rpartition(".")[0]
    return module or None


def _core_imports(path: Path, modules: dict[str, Path]) -> list[tuple[str, str]]:
    """(imported module, imported name or '') for every import of an application module,
    at any depth (a function-level import is still a dependency)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("core"):
                    found.append((alias.name, ""))
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("core"):
            for alias in node.names:
                submodule = f"{node.module}.{alias.name}"
                if submodule in modules:
                    found.append((submodule, ""))
                else:
                    found.append((node.module, alias.name))
    return [(name, symbol) for name, symbol in found if _resolve(name, modules)]


def _private_attribute_uses(path: Path) -> list[str]:
    """`module._name` where `module` is an imported application module (an alias)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    aliases = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("core"):
            aliases.update(alias.asname or alias.name for alias in node.names)
        elif isinstance(node, ast.Import):
            aliases.update(
                alias.asname or alias.name for alias in node.names if alias.name.startswith("core")
            )
    return [
        f"{node.value.id}.{node.attr}"
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute)
        and isinstance(node.value, ast.Name)
        and node.value.id in aliases
        and node.attr.startswith("_")
        and not node.attr.startswith("__")
    ]


def test_no_module_imports_another_modules_private_names():
    """A name shared between modules is public (no leading underscore) where it is defined."""
    modules = _application_modules()
    offenders = []
    for name, path in modules.items():
        for imported, symbol in _core_imports(path, modules):
            if symbol.startswith("_") and _resolve(imported, modules) != name:
                offenders.append(f"{name}: from {imported} import {symbol}")
        offenders.extend(f"{name}: {use}" for use in _private_attribute_uses(path))
    assert offenders == []


def test_the_application_modules_import_no_cycle():
    """Modules form layers: following imports from any module never leads back to it."""
    modules = _application_modules()
    graph = {
        name: {
            target
            for imported, _ in _core_imports(path, modules)
            if (target := _resolve(imported, modules))
            and target != name
            # a package's __init__ re-exporting its own submodules is not a cycle
            and not target.startswith(f"{name}.")
        }
        for name, path in modules.items()
    }
    cycles = []
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(node: str, trail: list[str]) -> None:
        state[node] = 1
        for target in sorted(graph.get(node, ())):
            if state.get(target) == 1:
                cycles.append(" -> ".join([*trail[trail.index(target) :], target]))
            elif target not in state:
                visit(target, [*trail, target])
        state[node] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
    assert cycles == []


def test_no_core_module_grows_past_800_lines_without_saying_why():
    """A module over ~800 lines holds one cohesive thing and says so in its docstring
    ("One cohesive module:")."""
    offenders = []
    for path in (ROOT / "core").rglob("*.py"):
        if "migrations" in path.parts or "i18n" in path.parts:
            continue
        source = path.read_text(encoding="utf-8")
        if source.count("\n") > 800:
            docstring = ast.get_docstring(ast.parse(source)) or ""
            if "One cohesive module" not in docstring:
                offenders.append(f"{path.relative_to(ROOT)} ({source.count(chr(10))} lines)")
    assert offenders == []


# Modules of core/ui and pages that open `write_session()` themselves, and why: everything
# else writes through core.ui.actions (`run_write` / `save`: one transaction, the outcome in
# the user's language, exactly the caches it affects).
OWN_WRITE_SESSIONS = {
    "core/ui/actions.py": "the one save path itself",
    "core/ui/auth.py": "signing in and out: login sessions and attempts, before there is a "
    "user or a language; a failure must stop the run, not be shown as a refusal",
    "core/ui/bootstrap.py": "preparing the database when the app starts",
    "core/ui/board.py": "the lead board's run_write (a stale lead reopens the board); "
    "to be folded into core.ui.actions once the board's dialog work lands",
}


def _write_sessions(path: Path) -> list[str]:
    """`function:line` of every `write_session(...)` call in the module."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []
    scopes = [("<module>", tree)] + [
        (node.name, node)
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
    ]
    for name, scope in scopes:
        for node in ast.walk(scope):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node is not scope:
                continue
            if not isinstance(node, ast.Call):
                continue
            called = getattr(node.func, "id", getattr(node.func, "attr", ""))
            if called == "write_session":
                found.append(f"{name}:{node.lineno}")
    return sorted(set(found))


def test_pages_and_ui_helpers_write_only_through_the_one_save_path():
    """A page or UI helper that opened its own write transaction would skip what every save
    promises the user: the outcome in their language, nothing half-saved and exactly the
    affected figures refreshed. Only the modules listed (with their reason) may."""
    paths = [*(ROOT / "core" / "ui").rglob("*.py"), *(ROOT / "pages").glob("*.py")]
    paths.append(ROOT / "Home.py")
    offenders = {
        str(path.relative_to(ROOT)): calls
        for path in paths
        if str(path.relative_to(ROOT)) not in OWN_WRITE_SESSIONS
        and (calls := _write_sessions(path))
    }
    assert offenders == {}


def test_every_table_shows_a_dash_for_a_missing_value():
    """Streamlit draws a missing cell as a grey "None" unless told otherwise; a department
    without cards would read "None" where its rate cannot be computed. Every st.dataframe and
    st.data_editor passes `placeholder` (the project's dash)."""
    paths = [*(ROOT / "core" / "ui").rglob("*.py"), *(ROOT / "pages").glob("*.py")]
    missing = []
    for path in paths:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in ("dataframe", "data_editor")
                and not any(k.arg in ("placeholder", None) for k in node.keywords)
            ):
                missing.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert missing == []


def test_every_empty_picker_prompts_in_the_users_language():
    """A select box that starts empty, and every multiselect, shows Streamlit's English
    "Choose an option" / "Choose options" unless given a placeholder, on Chinese screens too
    (seen on the staff form). Each passes one from the catalogue."""
    paths = [*(ROOT / "core" / "ui").rglob("*.py"), *(ROOT / "pages").glob("*.py")]
    missing = []
    for path in paths:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
                continue
            keywords = {k.arg: k.value for k in node.keywords}
            if "placeholder" in keywords or None in keywords:
                continue
            index = keywords.get("index")
            starts_empty = isinstance(index, ast.Constant) and index.value is None
            if node.func.attr == "multiselect" or (node.func.attr == "selectbox" and starts_empty):
                missing.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert missing == []


def _options_with_none(function: ast.AST) -> set[str]:
    """Names in `function` bound to option lists that start with None: a literal `[None,
    ...]`, the ids of `options_with_none(...)` or of a view's `owners()` / `staff` /
    `campaigns` (which call it), and comprehensions over those."""
    names: set[str] = set()

    def has_none(value: ast.AST) -> bool:
        if isinstance(value, ast.List) and value.elts:
            first = value.elts[0]
            return isinstance(first, ast.Constant) and first.value is None
        if isinstance(value, ast.ListComp):
            return any(
                isinstance(g.iter, ast.Name) and g.iter.id in names for g in value.generators
            )
        source = ast.unparse(value)
        return (
            "options_with_none(" in source
            or re.search(r"\.(owners\(\)|staff|campaigns)$", source) is not None
        )

    for node in ast.walk(function):
        if isinstance(node, ast.Assign) and has_none(node.value):
            target = node.targets[0]
            if isinstance(target, ast.Tuple) and target.elts:
                target = target.elts[0]
            if isinstance(target, ast.Name):
                names.add(target.id)
    return names


def test_every_picker_with_a_none_choice_names_it_when_empty():
    """Streamlit sends a select box's None value to the browser as "nothing chosen", so a
    choice list that starts with None ("All", "—") can show Streamlit's English "Choose an
    option" instead of its label, on Chinese screens too (seen on Campaigns → Owner after a
    rerun). Each such select box passes a placeholder from the catalogue."""
    paths = [*(ROOT / "core" / "ui").rglob("*.py"), *(ROOT / "pages").glob("*.py")]
    missing = []
    for path in paths:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for function in [tree, *(n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef))]:
            with_none = _options_with_none(function)
            for node in ast.walk(function):
                if not (
                    isinstance(node, ast.Call)
                    and isinstance(node.func, ast.Attribute)
                    and node.func.attr == "selectbox"
                    and len(node.args) > 1
                ):
                    continue
                keywords = {k.arg for k in node.keywords}
                if "placeholder" in keywords or None in keywords:
                    continue
                options = node.args[1]
                literal = isinstance(options, ast.List) and _options_with_none(
                    ast.parse(f"x = {ast.unparse(options)}")
                )
                if literal or (isinstance(options, ast.Name) and options.id in with_none):
                    missing.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert sorted(set(missing)) == []
