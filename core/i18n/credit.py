"""Labels of credit (SPEC §8): collisions, protection, the pool, transfers, merges, disputes."""

LABELS = {
    # Refusals
    "credit.err.unknown_staff": ("No staff member {value}", "没有员工 {value}"),
    "credit.err.unknown_lead": ("No lead {value}", "没有线索 {value}"),
    "credit.err.unknown_touch": ("No touch {value}", "没有撞单记录 {value}"),
    "credit.err.unknown_dispute": ("No dispute {value}", "没有申诉 {value}"),
    "credit.err.claimed_meanwhile": (
        "{lead_ref} was just claimed by {holder}",
        "{lead_ref} 刚刚已被 {holder} 认领",
    ),
    "credit.err.no_staff": (
        "No staff member is linked to this login: choose who claims",
        "此账号未关联员工：请选择认领人",
    ),
    "credit.err.inactive_staff": ("{staff_no} has left", "{staff_no} 已离职"),
    "credit.err.inactive_lead": (
        "{lead_ref} was merged into another lead",
        "{lead_ref} 已合并到另一条线索",
    ),
    "credit.err.already_yours": ("{lead_ref} is already yours", "{lead_ref} 已经是您的线索"),
    "credit.err.protected": (
        "{lead_ref} is held by {holder}, protected until {until}",
        "{lead_ref} 由 {holder} 持有，保护期至 {until}",
    ),
    "credit.err.claim_limit": (
        "The daily claim limit ({limit}) is reached for {day}",
        "{day} 的每日认领上限({limit} 条)已用完",
    ),
    "credit.err.same_owner": (
        "{staff_no} already owns this lead",
        "{staff_no} 已是这条线索的归属人",
    ),
    "credit.err.before_created": (
        "{day} is before the lead was created ({created})",
        "{day} 早于线索创建日期({created})",
    ),
    "credit.err.before_ownership": (
        "{day} is before the current ownership began ({start})",
        "{day} 早于当前归属的开始日期({start})",
    ),
    "credit.err.phone_characters": (
        "phone {value} may hold only digits, spaces and + - ( )",
        "电话 {value} 只能包含数字、空格和 + - ( )",
    ),
    "credit.err.phone_digits": (
        "phone {value} has {digits} digits; a phone has 7 to 15",
        "电话 {value} 有 {digits} 位数字；电话应为 7 到 15 位",
    ),
    "credit.err.ref_taken": ("{lead_ref} already exists", "{lead_ref} 已存在"),
    "credit.err.merge_self": ("Choose two different leads", "请选择两条不同的线索"),
    "credit.err.dispute_exists": (
        "A dispute about this touch already exists ({status})",
        "此撞单已有申诉({status})",
    ),
    "credit.err.ruling": ("The ruling is keep or transfer", "裁定只能是保留或转移"),
    "credit.err.dispute_ruled": (
        "This dispute was already ruled ({status})",
        "此申诉已裁定({status})",
    ),
    # What the person registering a lead is told
    "credit.msg.created": ("Lead {lead_ref} created", "线索 {lead_ref} 已创建"),
    "credit.msg.touch": (
        "This person is already held by {holder} (lead {existing}), protected until {until}. "
        "Your entry {lead_ref} is kept as a touch on that lead.",
        "此客户已由 {holder} 持有(线索 {existing})，保护期至 {until}。"
        "您录入的 {lead_ref} 已记为该线索的撞单。",
    ),
    "credit.msg.claim": (
        "This person's protection with {holder} ended on {until}: lead {existing} is now "
        "yours ({lead_ref} is its alias).",
        "此客户在 {holder} 名下的保护期已于 {until} 结束：线索 {existing} 现归您所有"
        "({lead_ref} 为其别名)。",
    ),
    "credit.msg.yours": (
        "This person is already your lead {existing}; {lead_ref} is now its alias.",
        "此客户已是您的线索 {existing}；{lead_ref} 已设为其别名。",
    ),
    # Import report lines
    "credit.import.touch": (
        "row {row}: {lead_ref} ({staff_no}, {on}) touches {existing}, held by {holder} "
        "until {until}",
        "第 {row} 行：{lead_ref}({staff_no}，{on})撞单 {existing}，由 {holder} 持有至 {until}",
    ),
    "credit.import.claim": (
        "row {row}: {lead_ref} ({staff_no}, {on}) claims {existing} from {holder} "
        "(protection ended {until})",
        "第 {row} 行：{lead_ref}({staff_no}，{on})认领 {existing}，原归属 {holder}"
        "(保护期至 {until})",
    ),
    "credit.import.yours": (
        "row {row}: {lead_ref} is {staff_no}'s own lead {existing} (alias)",
        "第 {row} 行：{lead_ref} 即 {staff_no} 自己的线索 {existing}(别名)",
    ),
    "credit.import.summary": (
        "{touches} touches, {claims} claims",
        "撞单 {touches} 条，认领 {claims} 条",
    ),
    "credit.import.transfers": ("{count} owners changed", "{count} 条线索变更归属"),
    # Transfers import
    "credit.transfer.same_owner": (
        "{staff_no} already owns {lead_ref}",
        "{staff_no} 已是 {lead_ref} 的归属人",
    ),
    # Settings (Admin)
    "setting.protection_days": (
        "Protection (days after the last touch)",
        "保护期(最后一次跟进后的天数)",
    ),
    "setting.daily_claim_limit": ("Pool claims per person a day", "每人每日公海认领上限"),
    # Table admin
    "table_admin.locked.credit": (
        "changed by claims, transfers and merges (ownership history)",
        "由认领、转移与合并维护(归属历史)",
    ),
    "table_admin.read_only.credit": (
        "Ownership history, touches, aliases and disputes change only through their own "
        "workflows, so credit history never changes behind anyone's back.",
        "归属历史、撞单、别名与申诉只能通过各自的流程修改，业绩归属不会被悄悄改写。",
    ),
    # Vocabulary
    "credit.how.created": ("Created", "创建"),
    "credit.how.claim": ("Claim", "认领"),
    "credit.how.transfer": ("Transfer", "转移"),
    "credit.how.offboarding": ("Offboarding", "离职交接"),
    "credit.how.reassignment": ("Reassignment", "重新分配"),
    "credit.how.merge": ("Merge", "合并"),
    "credit.dispute.open": ("Open", "待裁定"),
    "credit.dispute.kept": ("Kept by the owner", "维持原归属"),
    "credit.dispute.transferred": ("Transferred", "已转移"),
    # The Credit tab of the lead board and the lead dialog (core/ui/credit.py)
    "board.tab.credit": ("Credit", "归属"),
    "credit.ui.protected_until": ("Protected until {until}", "保护期至 {until}"),
    "credit.ui.lapsed_on": ("Protection lapsed {until}", "保护期已于 {until} 结束"),
    "credit.ui.field.protected_until": ("Protected until", "保护期至"),
    "credit.ui.as_of": ("As of {day}", "截至 {day}"),
    "credit.ui.new.title": ("New lead", "新建线索"),
    "credit.ui.new.help": (
        "The phone is checked against every lead: a person already held by someone else is "
        "not registered twice.",
        "电话会与所有线索比对：已由他人持有的客户不会被重复登记。",
    ),
    "credit.ui.new.name": ("Name", "姓名"),
    "credit.ui.new.phone": ("Mobile", "手机"),
    "credit.ui.new.owner": ("Owner", "归属人"),
    "credit.ui.new.on": ("Registered on", "登记日期"),
    "credit.ui.new.save": ("Register", "登记"),
    "credit.ui.new.no_name": ("Enter the person's name", "请填写客户姓名"),
    "credit.ui.new.no_staff": (
        "No staff member is linked to this login, so it cannot enter leads.",
        "此账号未关联员工，不能录入线索。",
    ),
    "credit.ui.lapsing.title": ("Protection ending within 7 days", "7 天内保护期到期"),
    "credit.ui.lapsing.help": (
        "Record a follow-up or interaction to keep these people: after the date shown, anyone "
        "who registers them takes them over.",
        "请在到期前跟进或记录互动以保住这些客户：过期后任何人登记即可接手。",
    ),
    "credit.ui.lapsing.empty": (
        "No protection ends in the next 7 days.",
        "未来 7 天没有到期的保护。",
    ),
    "credit.ui.pool.title": ("Pool: protection lapsed", "公海：保护期已过"),
    "credit.ui.pool.limit": (
        "{used} of {limit} claims used today ({day}) by {staff}",
        "{staff} 今日({day})已认领 {used} / {limit} 条",
    ),
    "credit.ui.pool.empty": ("No lead's protection has lapsed.", "没有保护期已过的线索。"),
    "credit.ui.pool.pick": ("Lead to claim", "要认领的线索"),
    "credit.ui.pool.for": ("Claim for", "认领给"),
    "credit.ui.pool.claim": ("Claim", "认领"),
    "credit.ui.pool.claimed": ("{lead_ref} is now {staff}'s", "{lead_ref} 现归 {staff}"),
    "credit.ui.merge.title": ("Likely duplicates", "疑似重复"),
    "credit.ui.merge.empty": ("No likely duplicates.", "没有疑似重复的线索。"),
    "credit.ui.merge.pick": ("Pair to review", "要核对的一对"),
    "credit.ui.merge.reason.same_key": ("same phone", "电话相同"),
    "credit.ui.merge.reason.one_digit": ("same name, phones one digit apart", "同名，电话差一位"),
    "credit.ui.merge.preview": (
        "Merge preview: {keep} survives, {merge} is merged into it",
        "合并预览：保留 {keep}，{merge} 并入其中",
    ),
    "credit.ui.merge.field": ("Field", "字段"),
    "credit.ui.merge.keep": ("Survivor {ref}", "保留 {ref}"),
    "credit.ui.merge.merged": ("Merged {ref}", "并入 {ref}"),
    "credit.ui.merge.same": ("Same", "相同"),
    "credit.ui.merge.moves": (
        "Moving to the survivor: {interactions} interactions, {orders} orders, {handoffs} "
        "hand-offs, {consent} consent records, {touches} touches, {members} members, "
        "{aliases} aliases.",
        "将移到保留线索：互动 {interactions} 条、订单 {orders} 条、转诊 {handoffs} 条、"
        "同意记录 {consent} 条、撞单 {touches} 条、会员 {members} 个、别名 {aliases} 个。",
    ),
    "credit.ui.merge.reason": ("Why (kept in the history)", "原因(记入历史)"),
    "credit.ui.merge.go": ("Merge", "合并"),
    "credit.ui.merge.done": ("{merge} merged into {keep}", "{merge} 已并入 {keep}"),
    "credit.ui.disputes.title": ("Touches and disputes", "撞单与申诉"),
    "credit.ui.touches.empty": ("No touches.", "没有撞单记录。"),
    "credit.ui.touches.mine": ("Your touches", "您的撞单"),
    "credit.ui.dispute.pick": ("Touch to dispute", "要申诉的撞单"),
    "credit.ui.dispute.note": ("Why the lead is yours", "为何应归您"),
    "credit.ui.dispute.raise": ("Raise a dispute", "提出申诉"),
    "credit.ui.dispute.raised": ("Dispute raised about {lead_ref}", "已就 {lead_ref} 提出申诉"),
    "credit.ui.dispute.none_open": ("No open disputes.", "没有待裁定的申诉。"),
    "credit.ui.dispute.list": ("Disputes", "申诉"),
    "credit.ui.dispute.empty": ("No disputes.", "没有申诉。"),
    "credit.ui.dispute.rule_pick": ("Dispute to rule", "要裁定的申诉"),
    "credit.ui.dispute.ruling": ("Ruling", "裁定"),
    "credit.ui.dispute.keep": ("Keep with the owner", "维持原归属"),
    "credit.ui.dispute.transfer": ("Transfer to the raiser", "转给申诉人"),
    "credit.ui.dispute.on": ("Transfer from", "转移日期"),
    "credit.ui.dispute.ruling_note": ("Note on the ruling", "裁定说明"),
    "credit.ui.dispute.rule": ("Rule", "裁定"),
    "credit.ui.dispute.ruled": (
        "Dispute about {lead_ref}: {status}",
        "{lead_ref} 的申诉：{status}",
    ),
    "credit.ui.history.title": ("Ownership", "归属"),
    "credit.ui.history.empty": ("No ownership history.", "没有归属历史。"),
    "credit.ui.touches.title": ("Touches by others", "他人撞单"),
    "credit.col.lead": ("Lead", "线索"),
    "credit.col.name": ("Name", "姓名"),
    "credit.col.owner": ("Owner", "归属人"),
    "credit.col.protected_until": ("Protected until", "保护期至"),
    "credit.col.last_touch": ("Last touch", "最后跟进"),
    "credit.col.staff": ("Staff", "员工"),
    "credit.col.from": ("From", "起"),
    "credit.col.to": ("To", "止"),
    "credit.col.how": ("How", "方式"),
    "credit.col.reason": ("Reason", "原因"),
    "credit.col.on": ("On", "日期"),
    "credit.col.source": ("Source", "来源"),
    "credit.col.alias": ("Their ref", "其编号"),
    "credit.col.holder": ("Holder", "持有人"),
    "credit.col.status": ("Status", "状态"),
    "credit.col.raised_by": ("Raised by", "申诉人"),
    "credit.col.note": ("Note", "说明"),
    "credit.col.ruled_on": ("Ruled on", "裁定日期"),
    "credit.col.ruling_note": ("Ruling", "裁定说明"),
    "credit.source.board": ("Lead board", "线索看板"),
    "credit.source.own_entry": ("Own entry", "本人录入"),
    "credit.source.import": ("Import", "导入"),
    "credit.field.lead_ref": ("Lead ref", "线索编号"),
    "credit.field.name": ("Name", "姓名"),
    "credit.field.phone": ("Phone", "电话"),
    "credit.field.person_key": ("Person key", "客户识别码"),
    "credit.field.owner_staff_id": ("Owner", "归属人"),
    "credit.field.created_on": ("Created on", "创建日期"),
    "credit.field.source_channel": ("Source", "来源渠道"),
    "credit.field.campaign_id": ("Campaign", "活动"),
    "credit.field.tags": ("Tags", "标签"),
    "credit.field.stage": ("Stage", "阶段"),
    "credit.field.age_band": ("Age band", "年龄段"),
    "credit.field.gender": ("Gender", "性别"),
    "credit.field.district": ("District", "区域"),
    "credit.field.condition": ("Condition", "病情"),
    "credit.field.department_of_interest": ("Department of interest", "意向科室"),
    "credit.field.points_total": ("Points", "积分"),
    "credit.field.last_interaction_on": ("Last interaction", "最近互动"),
}
