"""Labels of consent (PIPL), outreach lists and the sign-in hardening messages."""

LABELS = {
    # Consent to be contacted, per channel.
    "consent.channel.phone": ("Phone", "电话"),
    "consent.channel.sms": ("SMS", "短信"),
    "consent.channel.wechat": ("WeChat", "微信"),
    "consent.granted": ("Agreed", "已同意"),
    "consent.withdrawn": ("Withdrawn", "已撤回"),
    "consent.unknown": ("Not asked", "未征询"),
    "consent.subject.lead": ("Lead", "线索"),
    "consent.subject.member": ("Member", "会员"),
    "consent.recorded_on": ("Recorded on", "记录日期"),
    "consent.source": ("Source", "来源"),
    "consent.saved": ("Consent recorded.", "授权已记录。"),
    "consent.error.subject_type": (
        "Consent is recorded for a lead or a member.",
        "授权只能针对线索或会员记录。",
    ),
    "consent.error.channel": (
        "Unknown channel {channel}: use phone, SMS or WeChat.",
        "未知渠道 {channel}：请选择电话、短信或微信。",
    ),
    "consent.error.granted": ("Say whether consent is given or withdrawn.", "请选择同意或撤回。"),
    "consent.error.date": ("Enter the date the consent was given.", "请填写授权日期。"),
    "consent.error.future": ("{day} is in the future.", "{day} 是将来的日期。"),
    "consent.error.before_created": (
        "The lead was created on {created}; consent cannot be dated earlier.",
        "该线索创建于 {created}，授权日期不能早于此日。",
    ),
    "consent.error.source_too_long": (
        "The source may be at most {limit} characters.",
        "来源最多 {limit} 个字符。",
    ),
    "consent.error.too_many": ("Too many at a time.", "一次选择的数量过多。"),
    # Outreach lists: only those who agreed to the channel.
    "outreach.title": ("Outreach list", "外联名单"),
    "outreach.left_out": (
        "{n} left out: no consent to be contacted by {channel}.",
        "{n} 人未列入：未同意通过{channel}联系。",
    ),
    # Sign-in hardening.
    "security.production_cookie_key": (
        "TrustPool is not configured for production: set TRUSTPOOL_COOKIE_KEY (environment "
        "or .streamlit/secrets.toml) to a long random secret and restart.",
        "TrustPool 尚未完成生产环境配置：请设置 TRUSTPOOL_COOKIE_KEY（环境变量或 "
        ".streamlit/secrets.toml）为足够长的随机密钥后重启。",
    ),
    "security.weak_cookie_key": (
        "TrustPool refuses to run in production with a weak TRUSTPOOL_COOKIE_KEY: use at least "
        "{length} random characters, e.g. the output of "
        "`python3 -c 'import secrets; print(secrets.token_urlsafe(48))'`, and restart.",
        "TRUSTPOOL_COOKIE_KEY 强度不足，生产环境拒绝启动：请使用至少 {length} 个随机字符，"
        "例如 `python3 -c 'import secrets; print(secrets.token_urlsafe(48))'` 的输出，然后重启。",
    ),
    "security.demo_logins": (
        "TrustPool refuses to run in production while demo logins open with the public demo "
        "password: {usernames}. Give each a new password with "
        "`python -m core.cli user passwd USERNAME` or switch it off with "
        "`python -m core.cli user disable USERNAME`, then reload this page.",
        "存在仍使用公开演示密码的演示账号：{usernames}，生产环境拒绝运行。请用 "
        "`python -m core.cli user passwd 用户名` 设置新密码，或用 "
        "`python -m core.cli user disable 用户名` 停用该账号，然后刷新本页。",
    ),
    "security.login_wait": (
        "Too many failed sign-ins from here. Try again after {until}.",
        "此处登录失败次数过多，请于 {until} 后重试。",
    ),
}
