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


def test_every_page_starts_with_the_login_guard():
    """A page opened by URL on a fresh server runs its own guard before drawing anything."""
    for path in sorted((ROOT / "pages").glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        statements = [
            node
            for node in tree.body
            if not isinstance(node, ast.Import | ast.ImportFrom)
            and not (isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant))
        ]
        first = statements[0]
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
