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

# What each figure means (the help tooltip of its tile, SPEC §3), and why a figure shows "—".
LABELS.update(
    {
        "help.metric.licences": (
            "Card licences bought for this month (a setting an administrator records).",
            "本月购买的名片授权数(由管理员在设置中录入)。",
        ),
        "help.metric.cards_issued": (
            "Staff whose card was issued by the month's last day and not revoked by then.",
            "截至月末已开通且未被收回名片的员工数。",
        ),
        "help.metric.cards_not_activated": (
            "Of the cards issued, those not activated by the month's last day.",
            "已开通名片中,截至月末尚未激活的数量。",
        ),
        "help.metric.profiles_incomplete": (
            "Cards activated by the month's last day whose photo and bio were not complete then.",
            "截至月末已激活、但照片和简介尚未完善的名片数。",
        ),
        "help.metric.staff_using": (
            "Distinct staff with at least one activity record dated in the month "
            "(whatever the state of their card).",
            "本月至少有一条使用记录的员工人数(不论名片状态)。",
        ),
        "help.metric.staff_active": (
            "Staff with an issued card who own at least {n} leads created by the month's last day.",
            "名片已开通、且截至月末拥有至少 {n} 条线索的员工数。",
        ),
        "help.metric.new_leads": ("Leads created in the month.", "本月新建的线索数。"),
        "help.metric.cumulative_leads": (
            "Leads created on or before the month's last day.",
            "截至月末累计创建的线索数。",
        ),
        "help.metric.orders": (
            "Orders created in the month, whatever their status and kind.",
            "本月创建的订单数,不论状态和类型。",
        ),
        "help.metric.valid_orders": (
            "Orders created in the month with status valid, of every kind (appointments, mall, "
            "check-ups). Commission's “Valid appointments” counts only the appointment orders "
            "among them, so it is smaller.",
            "本月创建且状态为有效的订单,包括所有类型(预约、商城、体检)。"
            "佣金页的“有效预约”只计其中的预约订单,因此数值更小。",
        ),
        "help.metric.valid_appointments": (
            "Valid orders of kind appointment created in the month (¥10 commission each). "
            "“Valid orders” on the KPIs page also counts mall and check-up orders.",
            "本月创建的有效预约类订单(每个计佣金 10 元)。"
            "经营指标页的“有效订单”还包括商城和体检订单。",
        ),
        "help.metric.revenue": (
            "Sum of the amounts of the valid orders created in the month.",
            "本月创建的有效订单金额合计。",
        ),
        "help.metric.revenue_growth": (
            "(Revenue this month − revenue last month) ÷ revenue last month.",
            "(本月营收 − 上月营收)÷ 上月营收。",
        ),
        "help.metric.patients": (
            "Distinct patients with a valid order created in the month. An order's patient is "
            "its lead, else its member; an order naming neither has no patient.",
            "本月有有效订单的不同患者数。订单的患者是其线索,否则为其会员;两者皆无的订单不计。",
        ),
        "help.metric.returning_patients": (
            "Patients of the month who also had a valid order created before the month began.",
            "本月患者中,在本月之前也有有效订单的患者数。",
        ),
        "help.metric.return_rate": (
            "Returning patients ÷ patients of the month; “—” when the month had no patients.",
            "回诊患者 ÷ 本月患者;本月无患者时显示“—”。",
        ),
        "help.metric.referrals": (
            "Leads created in the month that name the member who referred them.",
            "本月创建且注明推荐会员的线索数。",
        ),
        "help.metric.commissionable_amount": (
            "Amount of the valid mall and check-up orders created in the month.",
            "本月创建的有效商城和体检订单金额。",
        ),
        "help.metric.commission": (
            "Per valid appointment plus a share of the commissionable amount (see Rules).",
            "每个有效预约的固定金额,加上提成基数的一定比例(见计算规则)。",
        ),
        "help.stage": (
            "Leads in this stage today: a snapshot of the board, not a step of a funnel.",
            "今天处于该阶段的线索数:看板的当前快照,不是转化漏斗的一步。",
        ),
        "help.metrics.activation_rate": (
            "Cards activated by the month's last day ÷ cards issued then (0–100%).",
            "截至月末已激活的名片 ÷ 已开通的名片(0–100%)。",
        ),
        "help.metrics.profile_rate": (
            "Activated cards with a complete profile by the month's last day ÷ cards issued "
            "(0–100%).",
            "截至月末资料已完善的已激活名片 ÷ 已开通的名片(0–100%)。",
        ),
        "help.metrics.usage_rate": (
            "Card holders with an activity record in the month ÷ cards issued (0–100%). "
            "Staff using without an issued card are counted in “Staff using” but not here.",
            "本月有使用记录的持卡员工 ÷ 已开通的名片(0–100%)。"
            "无有效名片的使用者计入“使用人数”,但不计入使用率。",
        ),
        "help.metrics.active_rate": (
            "Active staff ÷ cards issued (0–100%).",
            "活跃员工 ÷ 已开通的名片(0–100%)。",
        ),
        "metrics.card_holders_using": ("Card holders using", "持卡使用人数"),
        "why.no_cards": (
            "Not computable: no cards were issued by the month's last day.",
            "无法计算:截至月末没有已开通的名片。",
        ),
        "why.no_previous_revenue": (
            "Not computable: the previous month had no revenue.",
            "无法计算:上月没有营收。",
        ),
        "why.not_computable": (
            "Not computable for this month.",
            "本月无法计算。",
        ),
    }
)
