"""Labels of the KPI and Commission pages (figure names are `metric.*` in common.py, table
columns and leaderboard measures `metrics.*` in metrics.py)."""

LABELS = {
    # KPI page
    "kpi.tab.overview": ("Month at a glance", "本月概览"),
    "kpi.tab.trends": ("Trends", "趋势"),
    "kpi.tab.departments": ("Departments", "科室对比"),
    "kpi.tab.leaderboards": ("Leaderboards", "排行榜"),
    "kpi.tab.pareto": ("20/80", "二八分析"),
    "kpi.scope_department": (
        "Figures of your department only: {department}.",
        "仅显示本科室数据:{department}。",
    ),
    "kpi.month_heading": ("{month}, with the change on the previous month", "{month}(较上月变化)"),
    "kpi.ladder": ("Trust ladder: leads by stage", "信任阶梯:各阶段线索"),
    "kpi.ladder_note": (
        "Current stages of all leads (today), not as of the chosen month.",
        "所有线索的当前阶段(截至今日),不随所选月份变化。",
    ),
    "kpi.trend_heading": ("Month by month, {first} to {last}", "逐月趋势({first} 至 {last})"),
    "kpi.trend.leads": ("Leads", "线索"),
    "kpi.trend.orders": ("Orders and revenue", "订单与营收"),
    "kpi.trend.staff": ("Staff using and active", "使用与活跃员工"),
    "kpi.count": ("Count", "数量"),
    "kpi.staff_count": ("Staff", "人数"),
    "kpi.departments_heading": (
        "Departments in {month}: leads, orders and revenue",
        "{month} 各科室线索、订单与营收",
    ),
    "kpi.boards_heading": ("Top staff", "员工排行"),
    "kpi.boards_caption": ("{span} · top {n} of each", "{span} · 各取前 {n} 名"),
    "kpi.all_departments": ("All departments", "全部科室"),
    "kpi.period": ("Period", "统计期间"),
    "kpi.period.month": ("{month}", "{month}"),
    "kpi.period.ytd": ("Year to date", "本年累计"),
    "kpi.period.range": ("Months from … to …", "自选月份范围"),
    "kpi.from": ("From", "起始月份"),
    "kpi.to": ("To", "截止月份"),
    "kpi.range_swapped": (
        "The first month was after the last one; they have been swapped.",
        "起始月份晚于截止月份,已自动对调。",
    ),
    "kpi.pareto_caption": (
        "{members} members with valid orders; the top 20% ({top}) bring {share} of the revenue.",
        "共 {members} 位会员有有效订单;前 20%({top} 位)贡献了 {share} 的营收。",
    ),
    # Commission page
    "commission.rules": ("Rules", "计算规则"),
    "commission.rules_text": (
        "{per_appointment} for each valid appointment, plus {rate} of valid mall and "
        "check-up orders, counted in the month the order was placed.",
        "每个有效预约 {per_appointment},另加有效商城和体检订单金额的 {rate},按下单月份计算。",
    ),
    "commission.rules_where": (
        "An administrator changes them in Admin → Settings.",
        "管理员可在“系统管理 → 设置”中修改。",
    ),
    "commission.status_published": (
        "Published on {when} by {who}.",
        "已于 {when} 由 {who} 发布。",
    ),
    "commission.status_open": (
        "The sheet of {month} is not published yet: it follows the orders until it is.",
        "{month} 的佣金表尚未发布:发布前会随订单变动而更新。",
    ),
    "commission.status_running": (
        "{month} is not over yet: the sheet is a preview and can be published after the month.",
        "{month} 尚未结束:当前为预览,月份结束后方可发布。",
    ),
    "commission.staff_wait": (
        "The commission sheet of {month} is not published yet. Your line appears here once it is.",
        "{month} 的佣金表尚未发布,发布后将在此显示您的佣金。",
    ),
    "commission.sheet": ("Payout sheet of {month}", "{month} 佣金发放表"),
    "commission.my_line": ("Your commission in {month}", "您在 {month} 的佣金"),
    "commission.lines": ("Staff on the sheet", "计佣员工数"),
    "commission.adjustments_total": ("Adjustments (¥)", "调整金额(元)"),
    "commission.payout": ("Payout incl. adjustments (¥)", "含调整实发(元)"),
    "commission.empty": ("No commission lines for {month}.", "{month} 没有佣金记录。"),
    "commission.adjustments": ("Adjustments booked in {month}", "{month} 入账的调整"),
    "commission.adjustments_note": (
        "Corrections of earlier, published sheets; those sheets themselves stay as published.",
        "对以往已发布佣金表的更正;原佣金表保持发布时的内容不变。",
    ),
    "commission.corrects_month": ("Corrects", "更正月份"),
    "commission.amount": ("Amount (¥)", "金额(元)"),
    "commission.amount_help": (
        "Negative to claw back an overpayment.",
        "多发的佣金请填写负数扣回。",
    ),
    "commission.note": ("Reason", "原因"),
    "commission.staff": ("Staff member", "员工"),
    "commission.pick_staff": ("Choose a staff member", "请选择员工"),
    "commission.publish_heading": ("Review and publish {month}", "审核并发布 {month}"),
    "commission.publish_help": (
        "Publishing freezes the sheet and shows each staff member their line. Later changes "
        "to orders do not alter it; corrections become adjustment lines in the next open month.",
        "发布后佣金表即冻结,员工可查看本人佣金。之后的订单变动不会影响该表;"
        "如需更正,将在下一个未发布月份记为调整。",
    ),
    "commission.reviewed": (
        "I have reviewed the sheet of {month}",
        "我已审核 {month} 的佣金表",
    ),
    "commission.published_done": (
        "The sheet of {month} is published ({n} lines) and frozen.",
        "{month} 佣金表已发布({n} 行)并冻结。",
    ),
    "commission.adjust_heading": ("Correct the sheet of {month}", "更正 {month} 佣金表"),
    "commission.adjust_help": (
        "The sheet of {month} stays as published. A correction is an audited adjustment line "
        "booked in the next month whose sheet is still open.",
        "{month} 的佣金表保持不变。更正将作为调整记录(留有审计)记入下一个尚未发布的月份。",
    ),
    "commission.adjust_submit": ("Book the adjustment", "记录调整"),
    "commission.adjusted_done": (
        "Adjustment booked in {month}.",
        "调整已记入 {month}。",
    ),
    "commission.err.permission": (
        "Your role cannot do this.",
        "您的角色无权执行此操作。",
    ),
    "kpi.err.not_published": (
        "The sheet of {month} is not published: it still follows the orders, no correction needed.",
        "{month} 的佣金表尚未发布,会随订单自动更新,无需更正。",
    ),
    "kpi.err.amount": (
        "Enter a non-zero amount in yuan (e.g. 25.50 or -10).",
        "请输入非零金额(元),例如 25.50 或 -10。",
    ),
    "kpi.err.note_required": ("A correction needs a reason.", "更正须填写原因。"),
    "kpi.err.note_long": (
        "The reason is too long (at most {n} characters).",
        "原因过长(最多 {n} 个字)。",
    ),
    "kpi.err.unknown_staff": ("Choose a staff member.", "请选择员工。"),
}
LABELS.update(
    {
        "kpi.glance.figure": ("Figure", "指标"),
        "kpi.glance.count": ("Count", "数量"),
        "kpi.glance.amount": ("Amount (¥)", "金额(元)"),
        "kpi.glance.ratio": ("Rate", "比率"),
        "kpi.glance.change": ("Change on last month", "较上月变化"),
    }
)
