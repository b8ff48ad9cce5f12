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
    "field.empty": ("—", "—"),
}


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
