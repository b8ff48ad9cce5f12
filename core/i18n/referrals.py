"""Labels of return visits, recall and referrals (SPEC §10): core.ui.referrals, the importer."""

LABELS = {
    # Import errors (core.importing.plans: the `referred_by_member_no` column)
    "referrals.import_self": (
        "{value} cannot name themself as referrer",
        "{value} 不能填写自己为推荐人",
    ),
    "referrals.import_cycle": (
        "{value} would close a cycle of referrals (A referred B referred A)",
        "{value} 会形成循环推荐（A 推荐 B，B 又推荐 A）",
    ),
    # KPI page
    "referrals.tab": ("Return & referral", "复诊与转介绍"),
    "referrals.patients": ("Patients", "就诊患者"),
    "referrals.returning_patients": ("Returning patients", "复诊患者"),
    "referrals.return_rate": ("Return rate", "复诊率"),
    "referrals.referrals": ("Referred leads", "转介绍线索"),
    "referrals.referrals_help": (
        "Leads created this month that name the member who referred them",
        "本月新建且填写了推荐会员的线索",
    ),
    "referrals.trend_title": (
        "Patients who came back, month by month",
        "每月复诊患者与复诊率",
    ),
    "referrals.by_department": ("Return visits by department, {month}", "各科室复诊（{month}）"),
    "referrals.department": ("Department", "科室"),
    "referrals.share_title": ("Share of new leads that came by referral", "新线索中转介绍占比"),
    "referrals.share": ("Referral share", "转介绍占比"),
    "referrals.leaderboard_title": ("Members who brought the most people", "转介绍排行榜（会员）"),
    "referrals.leaderboard_month": ("{month}", "{month}"),
    "referrals.leaderboard_year": ("{year} to date", "{year} 年累计"),
    "referrals.leaderboard_empty": ("No referrals in this period.", "此期间没有转介绍。"),
    "referrals.rank": ("Rank", "名次"),
    "referrals.member_no": ("Member no.", "会员号"),
    "referrals.name": ("Name", "姓名"),
    "referrals.referred": ("People brought", "带来人数"),
    # Recall list
    "referrals.recall_tab": ("Due back", "复诊提醒"),
    "referrals.recall_title": ("Patients due back", "应复诊的患者"),
    "referrals.recall_help": (
        "As of {day}: {count} patients whose last valid order of a kind is older than its "
        "recall interval ({intervals}; Admin → settings).",
        "截至 {day}：{count} 位患者距上次同类有效订单已超过复诊间隔（{intervals}；可在管理→设置中修改）。",
    ),
    "referrals.recall_interval": ("{kind} {months} months", "{kind} {months} 个月"),
    "referrals.recall_empty": ("Nobody is due back.", "暂无应复诊的患者。"),
    "referrals.recall_line": (
        "{kind} last on {last_on} · due {due_on} ({days} days ago)",
        "上次{kind} {last_on} · 应于 {due_on} 复诊（已过 {days} 天）",
    ),
    "referrals.recall_contact": ("Contact: {name} · {department}", "联系人：{name} · {department}"),
    "referrals.recall_follow_up": ("Follow up", "记录跟进"),
    "referrals.recall_no_lead": ("No lead to follow up", "无可跟进的线索"),
    "referrals.brought": (
        "Your patients brought {count} others.",
        "您的患者已为医院带来 {count} 位新朋友。",
    ),
    # A member's referral tree
    "referrals.tree_title": ("Whom they brought ({count})", "TA 带来的人（{count}）"),
    "referrals.tree_empty": (
        "Nobody names this member as referrer yet.",
        "还没有人填写该会员为推荐人。",
    ),
    "referrals.tree_member": ("member", "会员"),
    "referrals.tree_lead": ("lead", "线索"),
    "referrals.tree_no_order": ("no valid order yet", "尚无有效订单"),
    "referrals.tree_first_order": (
        "first valid order: {kind} on {on}",
        "首个有效订单：{kind}，{on}",
    ),
    "referrals.tree_brought": (" · brought {count}", " · 带来 {count} 人"),
}
