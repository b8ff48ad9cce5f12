"""Labels of the importer (SPEC §5): file errors, row errors, the report and progress."""

LABELS = {
    # Whole-file problems
    "importer.unknown_kind": (
        "unknown import kind '{kind}'; expected one of: {kinds}",
        "未知的导入类型“{kind}”;可选:{kinds}",
    ),
    "importer.kind_not_allowed": (
        "role '{role}' may not import {kind}",
        "角色“{role}”无权导入 {kind}",
    ),
    "importer.no_file": ("no file was given", "未提供文件"),
    "importer.empty": ("the file is empty", "文件为空"),
    "importer.no_rows": (
        "the file has a header but no data rows",
        "文件只有表头,没有数据行",
    ),
    "importer.not_utf8": (
        "the file is not UTF-8 text (byte {byte} in row {row}); save it as 'CSV UTF-8' or as XLSX",
        "文件不是 UTF-8 编码(第 {row} 行出现字节 {byte});请另存为“CSV UTF-8”或 XLSX",
    ),
    "importer.bad_csv": (
        "the CSV file cannot be read at row {row}: {reason}",
        "CSV 文件第 {row} 行无法读取:{reason}",
    ),
    "importer.bad_xlsx": (
        "the file is not a readable XLSX workbook",
        "文件不是可读取的 XLSX 工作簿",
    ),
    "importer.xls": (
        "old Excel .xls files are not supported; save it as .xlsx or as 'CSV UTF-8'",
        "不支持旧版 Excel .xls 文件;请另存为 .xlsx 或“CSV UTF-8”",
    ),
    "importer.already_imported": (
        "this file was already imported on {date} ({rows} rows); nothing was changed",
        "该文件已于 {date} 导入({rows} 行);未做任何更改",
    ),
    "importer.conflict": (
        "another change conflicted with this import ({reason}); nothing was written, try again",
        "导入时与其他修改冲突({reason});未写入任何数据,请重试",
    ),
    "importer.kept_changing": (
        "the data this file refers to kept changing while it was written ({attempts} tries); "
        "nothing was written, try again",
        "写入期间该文件引用的数据不断被修改(已尝试 {attempts} 次);未写入任何数据,请重试",
    ),
    "importer.rejected_one": ("1 bad row; first: {first}", "1 行有误;首个错误:{first}"),
    "importer.rejected_many": (
        "{count} bad rows; first: {first}",
        "{count} 行有误;首个错误:{first}",
    ),
    "importer.at_row_column": (
        "row {row}, column {column}: {message}",
        "第 {row} 行,列 {column}:{message}",
    ),
    "importer.at_row": ("row {row}: {message}", "第 {row} 行:{message}"),
    # Header problems (row 1)
    "importer.unknown_column": (
        "unknown column {value}; expected: {expected}",
        "未知的列 {value};应为:{expected}",
    ),
    "importer.missing_column": ("required column is missing", "缺少必填列"),
    "importer.duplicate_column": (
        "column appears twice (also column {other})",
        "列名重复(另见第 {other} 列)",
    ),
    "importer.unnamed_column": ("column {position} has no name", "第 {position} 列没有列名"),
    "importer.extra_cells": (
        "the row has more cells than the header has columns",
        "该行的单元格数多于表头的列数",
    ),
    # Cell problems
    "importer.missing_value": ("a value is required", "必须填写"),
    "importer.bad_date": (
        "bad date {value}; use YYYY-MM-DD",
        "日期 {value} 无效;请使用 YYYY-MM-DD",
    ),
    "importer.bad_integer": (
        "bad number {value}; a whole number is required",
        "数字 {value} 无效;须为整数",
    ),
    "importer.bad_amount": (
        "bad amount {value}; use a number with at most 2 decimals",
        "金额 {value} 无效;最多两位小数",
    ),
    "importer.out_of_range": (
        "{value} is out of range ({low} to {high})",
        "{value} 超出范围({low} 至 {high})",
    ),
    "importer.negative": ("{value} must not be negative", "{value} 不能为负数"),
    "importer.bad_choice": (
        "unknown value {value}; expected one of: {choices}",
        "未知的取值 {value};可选:{choices}",
    ),
    "importer.too_long": (
        "too long ({length} characters; at most {limit})",
        "过长({length} 个字符;最多 {limit} 个)",
    ),
    "importer.formula": (
        "formulas are not accepted ({value}); enter the value itself",
        "不接受公式({value});请直接填写数值",
    ),
    "importer.control_chars": ("contains control characters", "包含控制字符"),
    "importer.unknown.department": ("no department with code {value}", "没有代码为 {value} 的科室"),
    "importer.unknown.staff": (
        "no staff member with staff_no {value}",
        "没有工号为 {value} 的员工",
    ),
    "importer.unknown.campaign": ("no campaign with code {value}", "没有代码为 {value} 的活动"),
    "importer.unknown.lead": ("no lead with lead_ref {value}", "没有编号为 {value} 的线索"),
    "importer.unknown.member": ("no member with member_no {value}", "没有会员号为 {value} 的会员"),
    "importer.duplicate_in_file": (
        "{value} appears twice in the file (also row {other})",
        "{value} 在文件中重复(另见第 {other} 行)",
    ),
    "importer.duplicate_in_db": ("{value} already exists", "{value} 已存在"),
    "importer.before_created": (
        "{value} is before the lead was created ({created})",
        "{value} 早于线索创建日期({created})",
    ),
    "importer.before_joined": (
        "{value} is before the member joined ({joined})",
        "{value} 早于会员入会日期({joined})",
    ),
    "importer.date_order": (
        "{value} is before {other} ({other_value})",
        "{value} 早于 {other}({other_value})",
    ),
    "importer.date_requires": ("a date here needs {other} too", "填写此日期时也须填写 {other}"),
    "importer.points_range": (
        "{kind} points must be between {low} and {high}, got {value}",
        "{kind} 的积分须在 {low} 至 {high} 之间,实际为 {value}",
    ),
    "importer.points_positive": (
        "{kind} points must be a positive whole number, got {value}",
        "{kind} 的积分须为正整数,实际为 {value}",
    ),
    "importer.points_zero": ("points must not be 0", "积分不能为 0"),
    "importer.balance": (
        "{kind} of {points} on {date} would take member {member}'s balance to {balance}",
        "{date} 的 {kind} {points} 分会使会员 {member} 的余额变为 {balance}",
    ),
    "importer.balance_later": (
        "{kind} of {points} on {date} would leave member {member} with a balance of {balance} "
        "on {later}",
        "{date} 的 {kind} {points} 分会使会员 {member} 在 {later} 的余额变为 {balance}",
    ),
    # Report and progress
    "importer.report": (
        "{kind}: {rows} rows imported from {filename}",
        "{kind}:已从 {filename} 导入 {rows} 行",
    ),
    "importer.report_dry": (
        "{kind}: {rows} rows in {filename} are valid; nothing was written (dry run)",
        "{kind}:{filename} 中 {rows} 行全部有效;未写入(试运行)",
    ),
    "importer.report_rescored": (
        "{rescored} leads rescored, {promoted} promoted",
        "{rescored} 条线索已重新评分,{promoted} 条自动升级",
    ),
    "importer.progress_reading": ("Reading the file", "正在读取文件"),
    "importer.progress_checking": ("Checking {rows} rows", "正在检查 {rows} 行"),
    "importer.progress_writing": ("Writing rows {done} of {rows}", "正在写入 {done}/{rows} 行"),
    "importer.progress_rescoring": ("Rescoring leads", "正在重新评分线索"),
    "importer.progress_done": ("Done", "完成"),
    "importer.progress_verifying": (
        "Writing: checking nothing changed meanwhile",
        "正在写入:确认期间数据未被更改",
    ),
    # Size limits (admin settings; the file is refused before it is read further)
    "importer.limit_size": (
        "the file is too big: {part} holds {size} MB of text, over the limit of {limit} MB; "
        "nothing was read or written. An administrator can raise the limit in Settings "
        "(setting '{setting}')",
        "文件过大:{part} 含 {size} MB 文本,超过 {limit} MB 的上限;未读取或写入任何数据。"
        "管理员可在“设置”中提高上限(设置项“{setting}”)",
    ),
    "importer.limit_rows": (
        "the file is too long: row {row} is past the limit of {limit} rows after the header; "
        "nothing was written. Split the file, or an administrator can raise the limit in "
        "Settings (setting '{setting}')",
        "文件过长:第 {row} 行超出表头之后 {limit} 行的上限;未写入任何数据。请拆分文件,"
        "或由管理员在“设置”中提高上限(设置项“{setting}”)",
    ),
    "importer.limit_columns": (
        "the file is too wide: row {row} has a value in column {column}, past the limit of "
        "{limit} columns; nothing was written. An administrator can raise the limit in "
        "Settings (setting '{setting}')",
        "文件过宽:第 {row} 行第 {column} 列有值,超出 {limit} 列的上限;未写入任何数据。"
        "管理员可在“设置”中提高上限(设置项“{setting}”)",
    ),
    "setting.import_max_rows": (
        "Import: most rows per file (import_max_rows)",
        "导入:每个文件最多行数(import_max_rows)",
    ),
    "setting.import_max_columns": (
        "Import: most columns per file (import_max_columns)",
        "导入:每个文件最多列数(import_max_columns)",
    ),
    "setting.import_max_megabytes": (
        "Import: most MB of text per file or XLSX part (import_max_megabytes)",
        "导入:每个文件或 XLSX 部件最多 MB 文本(import_max_megabytes)",
    ),
    # The admin's import screen
    "importer.file_info": (
        "{filename}: {size} KB, kind: {kind}; the rows are counted on Check",
        "{filename}:{size} KB,类型:{kind};点击“检查”时统计行数",
    ),
}
