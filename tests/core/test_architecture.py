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
