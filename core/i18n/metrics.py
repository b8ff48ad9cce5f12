"""Labels for the columns and choices of core.metrics' tables (departments, leaderboard,
Pareto, members, commission). SPEC §3's own figure names are `metric.*` in common.py."""

LABELS = {
    # department_table / department_comparison columns
    "metrics.department": ("Department", "科室"),
    "metrics.staff": ("Staff", "员工数"),
    "metrics.activated": ("Activated", "已激活"),
    "metrics.profiles_complete": ("Profiles complete", "资料已完善"),
    "metrics.activation_rate": ("Activation rate", "激活率"),
    "metrics.profile_rate": ("Profile completion rate", "资料完善率"),
    "metrics.usage_rate": ("Usage rate", "使用率"),
    "metrics.active_rate": ("Active rate", "活跃率"),
    # leaderboard
    "metrics.leaderboard": ("Leaderboard", "排行榜"),
    "metrics.rank": ("Rank", "排名"),
    "metrics.staff_no": ("Staff no.", "工号"),
    "metrics.name": ("Name", "姓名"),
    "metrics.value": ("Value", "数值"),
    "metrics.by.leads": ("Leads created", "新增线索"),
    "metrics.by.valid_appointments": ("Valid appointments", "有效预约"),
    "metrics.by.valid_revenue": ("Valid order revenue (¥)", "有效订单金额(元)"),
    "metrics.by.members_converted": ("Members converted", "转化会员"),
    # revenue_by_member (20/80)
    "metrics.pareto": ("Revenue by member (20/80)", "会员营收分布(二八法则)"),
    "metrics.member_no": ("Member no.", "会员号"),
    "metrics.share": ("Share of revenue", "营收占比"),
    "metrics.cumulative_share": ("Cumulative share of revenue", "累计营收占比"),
    "metrics.member_share": ("Share of members", "会员占比"),
    # commission sheet
    "metrics.published": ("Published", "已发布"),
    "metrics.not_published": ("Not published yet", "尚未发布"),
    "metrics.publish": ("Publish the sheet", "发布佣金表"),
    "metrics.published_frozen": (
        "Published sheets are frozen: later changes to orders do not alter them.",
        "已发布的佣金表将被冻结,之后的订单变动不会影响它。",
    ),
}
