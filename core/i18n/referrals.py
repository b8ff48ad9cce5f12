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
}
