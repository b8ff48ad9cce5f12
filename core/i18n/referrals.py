"""Labels of return visits, recall and referrals (SPEC §10): core.ui.referrals, the importer."""

LABELS = {
    # Import errors (core.importer: the `referred_by_member_no` column)
    "referrals.import_self": (
        "{value} cannot name themself as referrer",
        "{value} 不能填写自己为推荐人",
    ),
    "referrals.import_cycle": (
        "{value} would close a cycle of referrals (A referred B referred A)",
        "{value} 会形成循环推荐（A 推荐 B，B 又推荐 A）",
    ),
    "referrals.import_kept": (
        "row {row}: {lead_ref} is {existing}, already referred by {kept}; the first referrer "
        "is kept and {named} was not recorded",
        "第 {row} 行：{lead_ref} 即 {existing}，已由 {kept} 推荐；保留首位推荐人，未记录 {named}",
    ),
    # Forms and the table editor: "Referred by (member no.)"
    "referrals.field": ("Referred by (member no.)", "推荐人（会员号）"),
    "referrals.field_help": (
        "Optional: the member number of the member who brought this person.",
        "选填：带来此人的会员的会员号。",
    ),
    "referrals.err.unknown": (
        "Referred by (member no.): there is no member {value}.",
        "推荐人（会员号）：没有会员号为 {value} 的会员。",
    ),
    "referrals.err.self": (
        "Referred by (member no.): {value} is this person themself; a person cannot refer "
        "themself.",
        "推荐人（会员号）：{value} 就是此人本人，不能推荐自己。",
    ),
    "referrals.err.cycle": (
        "Referred by (member no.): {value} would close a cycle of referrals (A referred B "
        "referred A).",
        "推荐人（会员号）：{value} 会形成循环推荐（A 推荐 B，B 又推荐 A）。",
    ),
    "referrals.kept_warning": (
        "{existing} was already referred by {kept}: the first referrer is kept, {named} was "
        "not recorded.",
        "{existing} 已由 {kept} 推荐：保留首位推荐人，未记录 {named}。",
    ),
    "referrals.member_referrer": ("Referred by: {value}", "推荐人：{value}"),
    "referrals.member_form": ("Referred by", "推荐人"),
    "referrals.member_form_save": ("Save referrer", "保存推荐人"),
    "referrals.member_form_saved": (
        "{member_no}: referrer saved ({value}).",
        "{member_no}：推荐人已保存（{value}）。",
    ),
    "referrals.none": ("none", "无"),
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
    "referrals.recall_interval": ("{kind} {months}", "{kind} {months}"),
    "referrals.noun.month.one": ("{n} month", "{n} 个月"),
    "referrals.noun.month.other": ("{n} months", "{n} 个月"),
    "referrals.recall_empty": ("Nobody is due back.", "暂无应复诊的患者。"),
    "referrals.recall_line": (
        "{kind} last on {last_on} · due {due_on} ({days} days ago)",
        "上次{kind} {last_on} · 应于 {due_on} 复诊（已过 {days} 天）",
    ),
    "referrals.recall_contact": ("Contact: {name} · {department}", "联系人：{name} · {department}"),
    "referrals.recall_follow_up": ("Follow up", "记录跟进"),
    "referrals.recall_no_lead": ("No lead to follow up", "无可跟进的线索"),
    "referrals.brought": (
        "Your patients brought {others}.",
        "您的患者带来了 {others}。",
    ),
    "referrals.noun.other.one": ("{n} other", "{n} 位新患者"),
    "referrals.noun.other.other": ("{n} others", "{n} 位新患者"),
    "referrals.brought_help": (
        "Leads and members who name as referrer a member that came from your leads or that "
        "you look after.",
        "填写的推荐人是来自您的线索或由您负责的会员的线索和会员。",
    ),
    "referrals.brought_list": ("Who they brought ({count})", "他们带来的人（{count}）"),
    "referrals.brought_line": (
        "**{name}** · {ref} ({kind}, {on}) · brought by {referrer}",
        "**{name}** · {ref}（{kind}，{on}）· 推荐人 {referrer}",
    ),
    "referrals.brought_more": ("… and {count} more", "……另有 {count} 位"),
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
