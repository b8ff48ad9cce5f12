"""Admin → Import: upload a CSV or Excel file, check it (a dry run that writes nothing, its
bad rows shown cell by cell), then import it with a progress bar."""

from __future__ import annotations

import hashlib

import pandas as pd
import streamlit as st

from core import importer
from core.data_version import IMPORT_SUBJECTS
from core.db import read_session
from core.i18n import t
from core.permissions import PermissionDenied
from core.ui import cache
from core.ui import format as fmt
from core.ui.actions import refusal_text
from core.ui.admin.shared import choose
from core.ui.auth import CurrentUser
from core.ui.errors import user_errors
from core.ui.text import plain

# The cached readers an import of each kind touches (core.ui.cache subjects); the importer
# bumps the same subjects' data versions for the other app processes.
KIND_SUBJECTS: dict[str, tuple[str, ...]] = IMPORT_SUBJECTS


def bad_rows_frame(
    header: list[str], rows: dict[int, list[str]], errors: list, lang: str, limit: int = 500
) -> tuple[pd.DataFrame, dict[int, set[str]]]:
    """The file's bad rows (the row number, the reasons, then the file's columns) and, per
    row number, the columns to highlight."""
    by_row: dict[int, list] = {}
    for error in errors:
        by_row.setdefault(error.row, []).append(error)
    records = []
    marks: dict[int, set[str]] = {}
    row_col = t("table_admin.col_row", lang)
    reason_col = t("import_admin.col_problems", lang)
    for number in sorted(by_row)[:limit]:
        cells = rows.get(number, [])
        record = {row_col: number}
        for index, name in enumerate(header):
            record[name] = cells[index] if index < len(cells) else ""
        record[reason_col] = "; ".join(
            (f"{e.column}: " if e.column else "") + e.message_in(lang) for e in by_row[number]
        )
        records.append(record)
        marks[number] = {e.column for e in by_row[number] if e.column} or set(header)
    columns = [row_col, reason_col, *header]
    return pd.DataFrame.from_records(records, columns=columns), marks


def _styled_bad_rows(frame: pd.DataFrame, marks: dict[int, set[str]], row_col: str):
    def colour(row: pd.Series) -> list[str]:
        marked = marks.get(int(row[row_col]), set())
        return [
            "background-color: #fde2e1; color: #8a1c1c; font-weight: 600"
            if name in marked
            else ("background-color: #fff4f4" if name != row_col else "")
            for name in row.index
        ]

    return frame.style.apply(colour, axis=1)


def _templates(lang: str) -> None:
    kinds = list(importer.KINDS)
    with st.expander(t("import_admin.templates", lang)):
        template_kind = choose(
            t("import_admin.kind", lang),
            kinds,
            format_func=lambda k: t(f"import_kind.{k}", lang),
            key="imp_template_kind",
            lang=lang,
        )
        st.download_button(
            t("import_admin.download_template", lang),
            importer.template_csv(template_kind),
            file_name=f"trustpool-{template_kind}-template.csv",
            mime="text/csv",
            key="imp_template_download",
        )
        st.code(importer.template_csv(template_kind).decode("utf-8"), language="text")


def _dry_run(user: CurrentUser, kind: str, content: bytes, filename: str):
    """('ok', report) | ('rejected', ImportRejected) | ('failed', error): nothing is written
    (and no write lock taken: the check reads in a read session)."""
    try:
        report = importer.run_import(
            actor=user.actor,
            kind=kind,
            content=content,
            filename=filename,
            dry_run=True,
            lang=user.lang,
        )
    except importer.ImportRejected as rejected:
        return "rejected", rejected
    except (importer.ImportFailed, PermissionDenied) as error:
        return "failed", error
    return "ok", report


def upload_megabytes(limits: importer.Limits) -> int:
    """The largest file the uploader takes, in MB: the importer's own limit (a CSV file's
    text, an XLSX file's parts uncompressed: a bigger file is refused anyway), within the
    server's `server.maxUploadSize` (.streamlit/config.toml)."""
    return max(1, min(int(limits.megabytes), int(st.get_option("server.maxUploadSize"))))


def _limits() -> importer.Limits:
    with read_session() as session:
        return importer.Limits.of(session)


def _file_header(content: bytes, filename: str, digest: str) -> list[str]:
    """The file's header, read once per uploaded file (a rerun reads nothing again)."""
    cached = st.session_state.get("imp_header")
    if cached is None or cached[0] != digest:
        cached = (digest, importer.read_header(content, filename, _limits()))
        st.session_state["imp_header"] = cached
    return cached[1]


def tab(user: CurrentUser) -> None:
    """Upload, pick the kind (found from the header), Check (one dry run, its outcome kept
    for this file and kind until the file changes), then Import. The file is read in full
    only on Check and on Import, never on a mere rerun."""
    lang = user.lang
    st.caption(t("import_admin.intro", lang))
    kinds = list(importer.KINDS)
    left, right = st.columns([3, 2])
    limits = _limits()
    megabytes = upload_megabytes(limits)
    upload = left.file_uploader(
        t("import_admin.file", lang),
        type=["csv", "xlsx"],
        key="imp_file",
        max_upload_size=megabytes,
    )
    left.caption(
        t(
            "import_admin.limits",
            lang,
            megabytes=fmt.count(megabytes, lang),
            rows=fmt.count(limits.rows, lang),
            columns=fmt.count(limits.columns, lang),
            where=" → ".join(
                t(key, lang)
                for key in (
                    "admin.tab_settings",
                    "settings_admin.section_organisation",
                    "settings_admin.other",
                )
            ),
        )
    )
    if upload is None:
        _templates(lang)
        return
    content = upload.getvalue()
    filename = upload.name
    digest = hashlib.sha256(content).hexdigest()
    header: list[str] = []
    with user_errors(lang):
        header = _file_header(content, filename, digest)
    detected = importer.detect_kind(header) if header else None
    choice = choose(
        t("import_admin.kind", lang),
        ["auto", *kinds],
        format_func=lambda k: (
            t(
                "import_admin.auto",
                lang,
                kind=t(f"import_kind.{detected}", lang) if detected else "—",
            )
            if k == "auto"
            else t(f"import_kind.{k}", lang)
        ),
        key=f"imp_kind_{detected}",  # the first option names the kind found in this file
        lang=lang,
        container=right,
    )
    kind = detected if choice == "auto" else choice
    if kind is None:
        st.error(t("import_admin.unknown_kind", lang))
        _templates(lang)
        return
    right.caption(
        t(
            "importer.file_info",
            lang,
            filename=plain(filename),
            size=f"{max(1, round(len(content) / 1024)):,}",
            kind=t(f"import_kind.{kind}", lang),
        )
    )
    check_key = "imp_checked"
    checked = st.session_state.get(check_key)
    if checked is not None and checked[0] != (digest, kind):
        st.session_state.pop(check_key)
        checked = None
    if right.button(t("import_admin.check", lang), key="imp_check", type="secondary"):
        with user_errors(lang):
            checked = ((digest, kind), *_dry_run(user, kind, content, filename))
            st.session_state[check_key] = checked
    if checked is None:
        _templates(lang)
        return
    _, status, outcome = checked
    if status == "failed":
        st.error(refusal(outcome, lang))
    elif status == "rejected":
        _rejected_report(outcome, lang)
    else:
        st.success(plain(outcome.summary(lang)))
        if st.button(t("import_admin.import", lang), key="imp_run", type="primary"):
            with user_errors(lang):
                _run_import(user, kind, content, filename, check_key, digest)
    _templates(lang)


def _rejected_report(rejected, lang: str) -> None:
    errors = rejected.errors
    bad = len({e.row for e in errors})
    st.error(
        t(
            "import_admin.rejected",
            lang,
            bad=fmt.counted(bad, "fmt.noun.bad_row", lang),
            errors=fmt.counted(len(errors), "fmt.noun.problem", lang),
        )
    )
    frame, marks = bad_rows_frame(rejected.header, rejected.cells, errors, lang)
    row_col = t("table_admin.col_row", lang)
    st.dataframe(
        _styled_bad_rows(frame, marks, row_col),
        hide_index=True,
        width="stretch",
        column_config={
            t("import_admin.col_problems", lang): st.column_config.TextColumn(width="large")
        },
    )
    if bad > len(frame):
        st.caption(t("import_admin.more_rows", lang, shown=len(frame), bad=f"{bad:,}"))


def refusal(error: Exception, lang: str) -> str:
    """Why a file was not imported (or checked), in `lang`, as text."""
    if isinstance(error, importer.ImportFailed):
        return plain(error.message_in(lang))
    return refusal_text(error, lang) or t("app.error", lang, message=plain(error))


def _run_import(user: CurrentUser, kind, content, filename, check_key, digest) -> None:
    lang = user.lang
    bar = st.progress(0.0, text=t("import_admin.starting", lang))

    def progress(fraction: float, text: str) -> None:
        bar.progress(min(max(float(fraction), 0.0), 1.0), text=text)

    try:
        report = importer.run_import(
            actor=user.actor,
            kind=kind,
            content=content,
            filename=filename,
            dry_run=False,
            progress=progress,
            lang=lang,
        )
    except importer.ImportRejected as rejected:
        st.session_state[check_key] = ((digest, kind), "rejected", rejected)
        st.rerun()
    except (importer.ImportFailed, PermissionDenied) as error:
        bar.empty()
        st.error(refusal(error, lang))
        return
    except Exception:
        bar.empty()
        raise
    bar.progress(1.0, text=t("import_admin.done", lang))
    st.session_state.pop(check_key, None)
    cache.clear(KIND_SUBJECTS.get(kind, ("settings",)))
    st.success(plain(report.summary(lang)))
