"""Labels of the app's frame and of pointers from one page to another (issue 19, item 9)."""

LABELS = {
    "layout.import_elsewhere": (
        "Many people at once? Import a staff, department or card-activity file under "
        "{page} → {tab}: it checks the file first and shows every bad row.",
        "需要一次新增多人?请在“{page} → {tab}”中导入员工、科室或名片使用记录文件:"
        "导入前会先检查文件,并列出每一处错误。",
    ),
    "layout.open_import": ("Open {page} → {tab}", "打开“{page} → {tab}”"),
}
