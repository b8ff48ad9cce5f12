"""Labels of a staff member's provisional commission (core.ui.commission_staff) and of a
department head's comparison with the hospital (core.ui.head_view)."""

LABELS = {
    # A staff member's commission: the month so far, and the published months
    "provisional.label": (
        "Provisional — so far this month, not final",
        "暂估——本月至今，非最终",
    ),
    "provisional.help": (
        "Your commission from your valid orders of {month} recorded so far, by the same rule as "
        "the payout sheet. Orders can still be added, cancelled or validated until the office "
        "publishes the sheet; only the published figure is paid.",
        "按与佣金表相同的规则，根据目前已记录的您在 {month} 的有效订单计算。佣金表发布前，"
        "订单仍可能新增、取消或确认有效；仅以发布后的金额为准发放。",
    ),
    "provisional.detail": (
        "{month}: {appointments} valid appointments, {amount} commissionable amount.",
        "{month}：有效预约 {appointments} 个，提成基数 {amount}。",
    ),
    "provisional.not_published": (
        "The sheet of {month} is not published yet; the published figure is final.",
        "{month} 的佣金表尚未发布；以发布后的金额为准。",
    ),
    "provisional.history": ("Published months", "已发布月份"),
    "provisional.history_none": (
        "No commission sheet has been published yet.",
        "尚无已发布的佣金表。",
    ),
    # A department head: their department against the hospital (core.ui.head_view)
    "head.comparison_heading": (
        "Your department against the hospital in {month}",
        "{month} 本科室与全院对比",
    ),
    "head.comparison_caption": (
        "Hospital average: all departments together (total ÷ total). Other departments: the "
        "lowest, median and highest of the {n} other departments with a value, unnamed. "
        "Rank: 1 is the highest.",
        "全院平均：全院各科室合计（总数 ÷ 总数）。其他科室：另外 {n} 个有数据科室中的最低值、"
        "中位数和最高值（不显示科室名称）。排名：第 1 为最高。",
    ),
    "head.col.measure": ("Measure", "指标"),
    "head.col.department": ("Your department", "本科室"),
    "head.col.hospital": ("Hospital average", "全院平均"),
    "head.col.others_min": ("Other departments: lowest", "其他科室：最低"),
    "head.col.others_median": ("Other departments: median", "其他科室：中位数"),
    "head.col.others_max": ("Other departments: highest", "其他科室：最高"),
    "head.col.rank": ("Rank among departments", "科室排名"),
    "head.rank_of": ("{rank} of {n}", "第 {rank} / {n}"),
    "head.legend.others": ("Other departments (unnamed)", "其他科室（匿名）"),
    "head.legend.hospital": ("Hospital average", "全院平均"),
    "head.legend.department": ("Your department", "本科室"),
    "head.measure.leads_per_card": ("New leads per card", "每张名片新增线索"),
    "head.measure.valid_orders_per_person": ("Valid orders per person", "人均有效订单"),
    "head.measure.revenue_per_person": ("Revenue per person (¥)", "人均营收(元)"),
    "head.usage_heading": ("Card use by person and month", "本科室人员逐月名片使用"),
    "head.usage_caption": (
        "Days with card activity per person and month, for the people on the team in {month}.",
        "{month} 在岗人员每月有名片使用记录的天数。",
    ),
    "head.days": ("Days", "天数"),
    "head.pareto.heading": ("Revenue by patient (20/80)", "患者营收分布(二八法则)"),
    "head.pareto.caption": (
        "{patients} patients with valid orders ({revenue}); the top 20% ({top}) bring {share} "
        "of the revenue. A patient is an order's lead, else its member.",
        "有效订单患者 {patients} 人（{revenue}）；前 20%（{top} 人）贡献营收的 {share}。"
        "患者指订单关联的线索，无线索时为会员。",
    ),
    "head.pareto.patient": ("Patient (lead or member)", "患者(线索或会员)"),
    "head.pareto.patient_share": ("Cumulative share of patients", "患者累计占比"),
    "head.leavers": (
        "Not counted: {n} left during {month} — {names}.",
        "未计入：{month} 内离职 {n} 人——{names}。",
    ),
}
