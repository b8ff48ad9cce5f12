"""Words for the models' field names, so no table, form or filter shows `staff_no` or
`department_id` (issue 19, item 6). `field_label(table, column, lang)`: a table-specific
label (`field.<table>.<column>`) first, then the column's general one (`field.<column>`), then
the name turned into words ("card_issued_on" → "Card issued on") so a new column never shows
raw."""

from __future__ import annotations

LABELS = {
    "field.id": ("ID", "编号"),
    "field.action": ("Action", "操作"),
    "field.active": ("Active", "启用"),
    "field.age_band": ("Age band", "年龄段"),
    "field.alias_ref": ("Alias ref.", "别名编号"),
    "field.amount": ("Amount (¥)", "金额(元)"),
    "field.at": ("When", "时间"),
    "field.birthday": ("Birthday", "生日"),
    "field.body": ("Text", "正文"),
    "field.budget": ("Budget (¥)", "预算(元)"),
    "field.campaign_id": ("Campaign", "活动"),
    "field.card_activated_on": ("Card activated on", "名片开通日期"),
    "field.card_issued_on": ("Card issued on", "名片授权日期"),
    "field.card_revoke_reason": ("Reason the card was revoked", "名片收回原因"),
    "field.card_revoked_on": ("Card revoked on", "名片收回日期"),
    "field.changed_at": ("Changed at", "变更时间"),
    "field.changed_by_user_id": ("Changed by", "变更人"),
    "field.changed_on": ("Changed on", "变更日期"),
    "field.channel": ("Channel", "渠道"),
    "field.channels": ("Channels", "渠道"),
    "field.code": ("Code", "代码"),
    "field.commission": ("Commission (¥)", "提成(元)"),
    "field.commissionable_amount": ("Commissionable amount (¥)", "计提金额(元)"),
    "field.consultant_user_id": ("Consultant", "咨询师"),
    "field.created_at": ("Created at", "创建时间"),
    "field.created_by_user_id": ("Created by", "创建人"),
    "field.created_on": ("Created on", "创建日期"),
    "field.date": ("Date", "日期"),
    "field.department_id": ("Department", "科室"),
    "field.department_of_interest": ("Department of interest", "意向科室"),
    "field.detail": ("Details", "详情"),
    "field.disabled": ("Disabled", "已停用"),
    "field.display_name": ("Display name", "显示名称"),
    "field.done": ("Done", "已完成"),
    "field.due_on": ("Due on", "截止日期"),
    "field.ends_on": ("Ends on", "结束日期"),
    "field.entity": ("Record type", "记录类型"),
    "field.entity_id": ("Record ID", "记录编号"),
    "field.failed_logins": ("Failed sign-ins", "登录失败次数"),
    "field.gender": ("Gender", "性别"),
    "field.holder_staff_id": ("Holder", "持有人"),
    "field.is_system": ("System", "系统"),
    "field.joined_on": ("Joined on", "入职日期"),
    "field.key": ("Setting", "设置项"),
    "field.kind": ("Kind", "类型"),
    "field.last_interaction_on": ("Last interaction", "最近互动"),
    "field.lead_id": ("Lead", "线索"),
    "field.lead_ref": ("Lead ref.", "线索编号"),
    "field.left_on": ("Left on", "离职日期"),
    "field.level": ("Level", "等级"),
    "field.licences": ("Licences", "授权数"),
    "field.max_points": ("Maximum points", "最高积分"),
    "field.member_id": ("Member", "会员"),
    "field.member_no": ("Member no.", "会员号"),
    "field.min_points": ("Minimum points", "最低积分"),
    "field.month": ("Month", "月份"),
    "field.name": ("Name", "姓名"),
    "field.name_en": ("Name (English)", "英文名称"),
    "field.name_zh": ("Name (Chinese)", "中文名称"),
    "field.next_on": ("Next follow-up", "下次跟进"),
    "field.note": ("Note", "备注"),
    "field.occurred_on": ("Date", "日期"),
    "field.order_ref": ("Order ref.", "订单编号"),
    "field.outcome": ("Outcome", "结果"),
    "field.owner_staff_id": ("Owner", "归属员工"),
    "field.phone": ("Phone", "电话"),
    "field.points": ("Points", "积分"),
    "field.points_cost": ("Points cost", "所需积分"),
    "field.peak_rank": ("Highest suggested stage so far (0–3)", "历史最高建议阶段(0–3)"),
    "field.points_total": ("Score", "评分"),
    "field.profile_completed_on": ("Profile completed on", "资料完善日期"),
    "field.published_at": ("Published at", "发布时间"),
    "field.quantity": ("Quantity", "数量"),
    "field.reason": ("Reason", "原因"),
    "field.role": ("Role", "角色"),
    "field.source": ("Source", "来源"),
    "field.source_channel": ("Source channel", "来源渠道"),
    "field.staff_id": ("Staff member", "员工"),
    "field.staff_no": ("Staff no.", "工号"),
    "field.stage": ("Stage", "阶段"),
    "field.starts_on": ("Starts on", "开始日期"),
    "field.status": ("Status", "状态"),
    "field.stock": ("Stock", "库存"),
    "field.tags": ("Tags", "标签"),
    "field.threshold": ("Threshold", "门槛"),
    "field.title": ("Title", "标题"),
    "field.type": ("Type", "类型"),
    "field.updated_at": ("Updated at", "更新时间"),
    "field.updated_by_user_id": ("Updated by", "更新人"),
    "field.user_id": ("User", "用户"),
    "field.username": ("Username", "用户名"),
    "field.valid_appointments": ("Valid appointments", "有效预约"),
    "field.value": ("Value", "值"),
    "field.version": ("Version", "版本"),
    # Columns named nowhere above (every model field has words in both languages).
    "field.checkup_package": ("Check-up package", "体检套餐"),
    "field.chunks": ("Parts", "分块数"),
    "field.condition": ("Condition", "病种"),
    "field.content_type": ("Content type", "内容类型"),
    "field.decay_weeks": ("Idle weeks (score decay)", "未互动周数(评分衰减)"),
    "field.decided_at": ("Decided at", "处理时间"),
    "field.discount_rate": ("Discount rate", "折扣率"),
    "field.district": ("District", "区域"),
    "field.ended_at": ("Ended at", "结束时间"),
    "field.external_action": ("External action", "对外工作"),
    "field.feedback": ("Feedback", "反馈"),
    "field.filename": ("File name", "文件名"),
    "field.free_items": ("Free items", "免费项目"),
    "field.from_on": ("From", "起始日期"),
    "field.from_stage": ("From stage", "原阶段"),
    "field.gifts": ("Gifts", "礼品"),
    "field.granted": ("Granted", "已授权"),
    "field.handed_at": ("Handed over at", "转交时间"),
    "field.handed_by_user_id": ("Handed over by", "转交人"),
    "field.how": ("How", "方式"),
    "field.imported_at": ("Imported at", "导入时间"),
    "field.internal_coordination": ("Internal coordination", "内部协调"),
    "field.is_adjustment": ("Adjustment", "调整项"),
    "field.last_seen_at": ("Last seen at", "最近活动时间"),
    "field.linked_campaign_id": ("Linked campaign", "关联活动"),
    "field.locked_until": ("Locked until", "锁定至"),
    "field.milestone": ("Milestone", "节点"),
    "field.pdca_act": ("PDCA: act", "PDCA:改进"),
    "field.pdca_check": ("PDCA: check", "PDCA:检查"),
    "field.pdca_do": ("PDCA: do", "PDCA:执行"),
    "field.pdca_plan": ("PDCA: plan", "PDCA:计划"),
    "field.person_key": ("Person key (phone)", "身份键(电话)"),
    "field.points_entry_id": ("Points entry", "积分记录"),
    "field.published_by_user_id": ("Published by", "发布人"),
    "field.raised_at": ("Raised at", "提出时间"),
    "field.raised_by_staff_id": ("Raised by", "提出人"),
    "field.reason_code": ("Reason", "原因"),
    "field.recorded_on": ("Recorded on", "记录日期"),
    "field.redeemed_at": ("Redeemed at", "兑换时间"),
    "field.referral_lead_id": ("Referred lead", "推荐线索"),
    "field.referred_by_member_id": ("Referred by member", "推荐会员"),
    "field.responsible_staff_id": ("Responsible", "负责人"),
    "field.reward_id": ("Reward", "奖品"),
    "field.rows": ("Rows", "行数"),
    "field.ruled_by_user_id": ("Ruled by", "裁定人"),
    "field.ruled_on": ("Ruled on", "裁定日期"),
    "field.ruling_note": ("Ruling note", "裁定说明"),
    "field.sessions_valid_after": ("Sessions valid after", "会话有效起始时间"),
    "field.sha256": ("File fingerprint (SHA-256)", "文件指纹(SHA-256)"),
    "field.started_at": ("Started at", "开始时间"),
    "field.subject": ("Subject", "数据主题"),
    "field.subject_id": ("Subject ID", "对象编号"),
    "field.subject_type": ("Subject type", "对象类型"),
    "field.target_leads": ("Target leads", "目标线索数"),
    "field.to_on": ("To", "截止日期"),
    "field.to_stage": ("To stage", "新阶段"),
    "field.touch_id": ("Contact", "接触记录"),
    "field.touched_on": ("Contacted on", "接触日期"),
    "field.transfer_on": ("Transfer on", "转移日期"),
    # Names that mean another thing in one table.
    "field.department.name": ("Name", "名称"),
    "field.campaign.name": ("Name", "名称"),
    "field.tier.name": ("Name", "名称"),
    "field.reward.name": ("Name", "名称"),
    "field.scoring_rule.kind": ("Interaction", "互动类型"),
    "field.scoring_rule.points": ("Points", "积分"),
    # Keys of the audit log's details (who moved what, how many rows).
    "field.bytes": ("Size (bytes)", "大小(字节)"),
    "field.from_owner": ("From", "原归属"),
    "field.from_owner_id": ("From (ID)", "原归属编号"),
    "field.from_staff_no": ("From (staff no.)", "原归属工号"),
    "field.leaving_staff_no": ("Leaving staff no.", "离职员工工号"),
    "field.on": ("On", "日期"),
    "field.to_owner": ("To", "新归属"),
    "field.to_owner_id": ("To (ID)", "新归属编号"),
    "field.to_staff_no": ("To (staff no.)", "新归属工号"),
    "field.to_user_id": ("To user (ID)", "接收用户编号"),
    "field.via": ("Via", "途径"),
    "field.cards": ("Cards", "名片"),
    "field.logins": ("Logins", "登录账号"),
    "field.touches": ("Contacts", "接触记录"),
    "field.aliases": ("Aliases", "别名"),
    "field.merged": ("Merged lead", "被合并线索"),
    "field.merged_ref": ("Merged lead ref.", "被合并线索编号"),
    "field.merged_id": ("Merged lead (ID)", "被合并线索编号(ID)"),
    "field.moved": ("Moved", "已转移"),
    "field.lapsed_until": ("Lapsed until", "失效至"),
    "field.ruling": ("Ruling", "裁定"),
    "field.setting": ("Setting", "设置项"),
    "field.old": ("Before", "原值"),
    "field.new": ("After", "新值"),
    "field.empty": ("—", "—"),
}


# Columns whose values are words of a fixed vocabulary: (table, column) → the catalogue
# prefix of those words (`interaction.browse_news` → "Browse news" / "浏览资讯").
VALUE_LABELS: dict[tuple[str, str], str] = {
    ("app_user", "role"): "role",
    ("lead", "stage"): "stage",
    ("stage_change", "from_stage"): "stage",
    ("stage_change", "to_stage"): "stage",
    ("lead", "source_channel"): "lead_source",
    ("interaction", "kind"): "interaction",
    ("scoring_rule", "kind"): "interaction",
    ("followup", "kind"): "followup_kind",
    ("staff_activity", "kind"): "activity",
    ("orders", "kind"): "order_kind",
    ("orders", "status"): "order_status",
    ("campaign", "type"): "campaign_type",
    ("campaign", "status"): "campaign_status",
    ("points_entry", "kind"): "points_kind",
    ("handoff", "status"): "handoff_status",
    ("handoff", "outcome"): "outcome",
    ("consent", "channel"): "consent.channel",
    ("consent", "subject_type"): "consent.subject",
    ("content_piece", "kind"): "content.kind",
    ("content_piece", "content_type"): "content_type",
    ("ownership_period", "how"): "credit.how",
    ("import_batch", "kind"): "import_kind",
    ("lead_dispute", "status"): "credit.dispute",
}


def value_label(table: str | None, column: str, value, lang: str = "en") -> str:
    """A cell of `table.column` as a user reads it: a vocabulary word in `lang`
    (scoring_rule.kind "browse_news" → "Browse news" / "浏览资讯"), else `cell_text`."""
    from core.i18n import CATALOGUE, t

    prefix = VALUE_LABELS.get((table or "", column))
    if prefix is not None and value is not None:
        key = f"{prefix}.{value}"
        if key in CATALOGUE:
            return t(key, lang)
    return cell_text(value, lang)


def _words(column: str) -> str:
    """A column name as words: drop an `_id`/`_user_id` suffix, underscores to spaces."""
    for suffix in ("_user_id", "_staff_id", "_id"):
        if column.endswith(suffix) and column != suffix.lstrip("_"):
            column = column[: -len(suffix)]
            break
    text = column.replace("_", " ").strip()
    return text[:1].upper() + text[1:] if text else column


def field_label(table: str | None, column: str, lang: str = "en") -> str:
    """What a user reads for `table.column` (e.g. ("staff", "card_issued_on") → "Card issued
    on" / "名片授权日期"), never the raw name."""
    from core.i18n import CATALOGUE, t

    for key in (f"field.{table}.{column}", f"field.{column}"):
        if key in CATALOGUE:
            return t(key, lang)
    return _words(column)


def cell_text(value, lang: str = "en") -> str:
    """A cell as a user reads it: an empty value (None, NaN) is "—", never "None"."""
    from core.i18n import t

    if value is None or (isinstance(value, float) and value != value):
        return t("field.empty", lang)
    return str(value)
