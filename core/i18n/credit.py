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
}
