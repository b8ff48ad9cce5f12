"""The importer (SPEC §5) is a package whose file names read as its steps — reading, checking,
the kinds, writing — and only its writer writes an import's rows to the database (where a
faster bulk path, e.g. PostgreSQL COPY, is added once for every kind). A refusal of typed
text is an application error like every other, shown in the user's language."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from core.errors import AppError
from core.i18n import t
from core.text import TextRefused, clean_text

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "core" / "importing"
STEPS = ("outcome", "kinds", "reader", "checks", "plans", "writer", "api")
# What writes rows: SQL statements that change a table, the bulk executemany, ORM adds.
WRITING_IMPORTS = {"insert", "update", "delete", "execute_many"}
WRITING_METHODS = {"add", "add_all", "bulk_insert_mappings", "bulk_save_objects", "merge"}


def test_the_importer_is_one_module_per_step_each_short():
    """core/importing holds one module per step of an import, each at most 800 lines (none
    claims the "One cohesive module" exception), and the old 2,272-line module is gone."""
    assert not (ROOT / "core" / "importer.py").exists()
    modules = {path.stem: path for path in PACKAGE.glob("*.py")}
    assert set(STEPS) <= set(modules)
    for name, path in modules.items():
        source = path.read_text(encoding="utf-8")
        assert source.count("\n") <= 800, name
        assert "One cohesive module" not in (ast.get_docstring(ast.parse(source)) or ""), name


def _writes(path: Path) -> list[str]:
    """The row-writing names `path` imports or calls (`insert`, `session.add`, …)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            found += [alias.name for alias in node.names if alias.name in WRITING_IMPORTS]
        elif (
            isinstance(node, ast.Attribute)
            and node.attr in WRITING_METHODS
            and isinstance(node.value, ast.Name)
            and node.value.id == "session"
        ):
            found.append(f"session.{node.attr}")
    return found


def test_only_the_writer_writes_an_imports_rows():
    """Every kind's rows reach the database through core/importing/writer.py: no other
    module of the importer builds an INSERT, UPDATE or DELETE or adds rows to a session
    (what a kind changes besides its rows is done by the services it calls)."""
    offenders = {
        path.name: found
        for path in sorted(PACKAGE.glob("*.py"))
        if path.name != "writer.py" and (found := _writes(path))
    }
    assert offenders == {}
    assert {"insert", "execute_many"} <= set(_writes(PACKAGE / "writer.py"))


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_refused_typed_text_is_an_application_error_in_the_users_language(lang):
    """A formula or a control character typed into a form is refused as an `AppError` (the
    one error every page shows in the user's language), with the same message as before:
    the field's name, then why, then that nothing was saved."""
    with pytest.raises(AppError) as formula:
        clean_text("=HYPERLINK(1)", field="name")
    assert isinstance(formula.value, TextRefused)
    assert formula.value.key == "board.text_refused"
    assert formula.value.values["field"] == "name"
    reason = t("importer.formula", lang, value="'=HYPERLINK(1)'")
    expected = t("board.text_refused", lang, field=t("board.text_field.name", lang), reason=reason)
    assert formula.value.message_in(lang) == expected
    assert str(formula.value) == formula.value.message_in("en")
    # A page quotes the typed value (core.ui.text.plain): only the value, not the field.
    quoted = formula.value.message_in(lang, quote=lambda value: f"«{value}»")
    assert "«'=HYPERLINK(1)'»" in quoted
    with pytest.raises(AppError) as control:
        clean_text("a\x00b", field="note")
    reason = t("importer.control_chars", lang)
    expected = t("board.text_refused", lang, field=t("board.text_field.note", lang), reason=reason)
    assert control.value.message_in(lang) == expected
