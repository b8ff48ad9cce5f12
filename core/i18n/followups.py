"""Labels of follow-ups and My day (SPEC §9)."""

LABELS = {
    "page.my_day": ("My day", "我的今日"),
    "setting.followup_cadence": (
        "Days to the next follow-up, by stage",
        "各阶段跟进间隔(天)",
    ),
    "import_kind.followups": ("Follow-ups", "跟进记录"),
    # Kinds
    "followup_kind.call": ("Call", "电话"),
    "followup_kind.wechat": ("WeChat", "微信"),
    "followup_kind.visit": ("Visit", "面访"),
    "followup_kind.sms": ("SMS", "短信"),
    "followup_kind.other": ("Other", "其他"),
    # Refusals
    "followups.error.invalid": ("This follow-up cannot be saved", "无法保存此跟进"),
    "followups.error.not_a_date": ("{value} is not a date", "{value} 不是日期"),
    "followups.error.future": (
        "The contact is dated {day}, in the future",
        "跟进日期 {day} 在未来",
    ),
    "followups.error.before_created": (
        "The contact on {day} is before the lead was created ({created})",
        "跟进日期 {day} 早于线索创建日期 {created}",
    ),
    "followups.error.next_before": (
        "The next date {next_on} is before the contact ({day})",
        "下次跟进日期 {next_on} 早于本次跟进 {day}",
    ),
    "followups.error.too_long": (
        "The note is longer than {limit} characters",
        "备注超过 {limit} 个字符",
    ),
    "followups.error.unknown_lead": ("No lead {value}", "没有线索 {value}"),
    "followups.error.unknown_staff": ("No staff member {value}", "没有员工 {value}"),
    "followups.error.kind": (
        "Unknown kind {value}: use one of {kinds}",
        "未知方式 {value}：请使用 {kinds}",
    ),
    "followups.error.no_staff": (
        "No staff member is linked to this login, so the contact has nobody to record it for",
        "此账号未关联员工，无法记录跟进人",
    ),
    "followups.error.cadence": (
        "The cadence of {stage} must be a whole number of days from {low} to {high}",
        "{stage} 的跟进间隔须为 {low} 到 {high} 之间的整数天",
    ),
    # Import rows
    "followups.import.future": ("{value} is in the future", "{value} 在未来"),
    "followups.import.next_before": (
        "next_on {value} is before occurred_on {day}",
        "next_on {value} 早于 occurred_on {day}",
    ),
    # My day: counts and sections
    "myday.as_of": ("Your day: {day}", "今日：{day}"),
    "myday.count.overdue": ("Overdue", "已逾期"),
    "myday.count.due_today": ("Due today", "今日到期"),
    "myday.count.first_contacts": ("First contacts", "首次联系"),
    "myday.count.handoffs": ("Hand-offs waiting", "待接转介"),
    "myday.count.members": ("Members today", "今日会员关怀"),
    "myday.count.lapsing": ("Protection lapsing", "保护期将到"),
    "myday.section.overdue": ("Overdue", "已逾期"),
    "myday.section.due_today": ("Due today", "今日到期"),
    "myday.section.first_contacts": ("First contacts for new leads", "新线索首次联系"),
    "myday.section.handoffs": ("Hand-offs waiting for a consultant", "等待咨询师接收的转介"),
    "myday.section.members": ("Members: birthdays and care today", "会员：今日生日与关怀"),
    "myday.section.lapsing": ("Protection lapsing within 7 days", "7 天内保护期到期"),
    "myday.sections": ("Your lists today", "今日清单"),
    "myday.section_empty": ("Nothing in this list today.", "今天这个清单是空的。"),
    "myday.more": ("… and {count:,} more", "……另有 {count:,} 条"),
    "myday.show_more": (
        "Show {count:,} more ({left:,} not shown)",
        "再显示 {count:,} 条（还有 {left:,} 条未显示）",
    ),
    "myday.empty": (
        "Nothing is due today. Well done — enjoy a calm day!",
        "今天没有待办的跟进。做得好，祝您今天轻松愉快！",
    ),
    "myday.no_staff": (
        "No staff member is linked to this login, so you have no leads of your own.",
        "此账号未关联员工，因此没有您自己的线索。",
    ),
    # Why a row is here
    "myday.why.overdue": (
        "Follow-up was due {day} ({ago})",
        "应于 {day} 跟进({ago})",
    ),
    "myday.why.first_overdue": (
        "Never contacted: first contact was due {day} ({ago})",
        "从未联系：应于 {day} 首次联系({ago})",
    ),
    "myday.why.due_today": ("Follow-up due today (last contact {last})", "今日应跟进(上次 {last})"),
    "myday.why.first_contact": (
        "New lead from {created}: first contact",
        "{created} 新线索：首次联系",
    ),
    "myday.why.handed": ("handed to you", "转介给您"),
    "myday.why.handoff": ("Handed to {consultant} on {day}", "{day} 转介给 {consultant}"),
    "myday.why.birthday": ("Birthday today", "今天生日"),
    "myday.why.quiet": ("Quiet for 30 days: time for a call", "30 天未活跃：该联系了"),
    "myday.why.lapsing": (
        "Protection ends {until}: a follow-up renews it",
        "保护期至 {until}：跟进即可续期",
    ),
    "myday.score": ("score {score}", "评分 {score}"),
    # Actions
    "myday.call": ("Call", "拨打"),
    "myday.record": ("Record", "记录跟进"),
    "myday.open": ("Open", "打开"),
    "myday.no_phone": ("No phone", "无电话"),
    "myday.opened_lead": ("Lead {ref}: {name}", "线索 {ref}：{name}"),
    "myday.history": ("Follow-ups so far", "历史跟进"),
    "myday.no_history": ("No follow-up yet.", "尚无跟进记录。"),
    # The follow-up form
    "followups.form.title": ("Record a follow-up: {name}", "记录跟进：{name}"),
    "followups.form.kind": ("How", "方式"),
    "followups.form.occurred_on": ("Date of the contact", "跟进日期"),
    "followups.form.next_on": ("Next follow-up", "下次跟进"),
    "followups.form.next_help": (
        "Suggested from the stage cadence ({days} days for {stage})",
        "按阶段间隔建议({stage} {days} 天)",
    ),
    "followups.form.note": ("Note", "备注"),
    "followups.form.save": ("Save follow-up", "保存跟进"),
    "followups.form.cancel": ("Cancel", "取消"),
    "followups.saved": (
        "Follow-up with {name} saved; next on {next_on}",
        "已保存与 {name} 的跟进；下次 {next_on}",
    ),
    # Team views
    "myday.team.title": ("Your team", "团队跟进"),
    "myday.team.caption_department": ("Your department only", "仅本科室"),
    "myday.team.caption_all": ("Every department", "全部科室"),
    "myday.team.person": ("Person", "人员"),
    "myday.team.staff_no": ("Staff no.", "工号"),
    "myday.team.leads": ("Leads", "线索"),
    "myday.team.overdue": ("Overdue", "逾期"),
    "myday.team.due_today": ("Due today", "今日到期"),
    "myday.team.unattended": ("Unattended", "未跟进"),
    "myday.team.unattended_help": (
        "Leads with no follow-up within their stage's cadence",
        "超过阶段跟进间隔未跟进的线索",
    ),
    "myday.team.team_overdue": ("Team overdue", "团队逾期"),
    "myday.team.team_unattended": ("Team unattended", "团队未跟进"),
    "myday.team.empty": ("No leads in your team yet.", "团队暂无线索。"),
    "myday.trend.title": ("Follow-ups done on time, by week", "每周按时跟进率"),
    "myday.trend.week": ("Week of", "周(起)"),
    "myday.trend.share": ("Done on time", "按时完成"),
    "myday.trend.due": ("Due", "应跟进"),
    "myday.trend.empty": ("Nothing was due in these weeks.", "这几周没有应跟进的线索。"),
    # Cadence settings (admin)
    "followups.cadence.title": ("Follow-up cadence", "跟进间隔"),
    "followups.cadence.caption": (
        "Days from a follow-up to the next one when no next date is given (SPEC §9).",
        "未填写下次日期时，两次跟进之间的天数。",
    ),
    "followups.cadence.preview": (
        "On {day} this change makes {due_new:,} leads due instead of {due_now:,} ({change:+,}).",
        "按 {day} 计算，此更改使应跟进线索由 {due_now:,} 条变为 {due_new:,} 条({change:+,})。",
    ),
    "followups.cadence.stage": ("Stage", "阶段"),
    "followups.cadence.days_now": ("Days now", "当前天数"),
    "followups.cadence.days_new": ("New days", "新天数"),
    "followups.cadence.due_now": ("Due now", "当前应跟进"),
    "followups.cadence.due_new": ("Due after", "更改后应跟进"),
    "followups.cadence.change": ("Change", "变化"),
    "followups.cadence.saved": ("Follow-up cadence saved", "已保存跟进间隔"),
}
