"""What a mail address says about who is behind it, decided by code."""

# Mail providers whose domain says nothing about a company: anyone can have an address there,
# so a shared domain is no shared company (and no licence to follow a Reply-To). A backstop:
# company-wide memory is only kept for the policy's `known_domains`.
FREEMAIL = frozenset(
    [
        "gmail.com",
        "googlemail.com",
        "outlook.com",
        "hotmail.com",
        "hotmail.co.uk",
        "hotmail.fr",
        "live.com",
        "live.co.uk",
        "msn.com",
        "yahoo.com",
        "yahoo.co.uk",
        "yahoo.fr",
        "yahoo.de",
        "ymail.com",
        "rocketmail.com",
        "icloud.com",
        "me.com",
        "mac.com",
        "aol.com",
        "proton.me",
        "protonmail.com",
        "pm.me",
        "gmx.com",
        "gmx.net",
        "gmx.de",
        "web.de",
        "t-online.de",
        "freenet.de",
        "mail.com",
        "email.com",
        "zoho.com",
        "fastmail.com",
        "hey.com",
        "yandex.com",
        "yandex.ru",
        "mail.ru",
        "qq.com",
        "163.com",
        "126.com",
        "naver.com",
        "comcast.net",
        "verizon.net",
        "att.net",
        "btinternet.com",
        "orange.fr",
        "free.fr",
        "laposte.net",
        "libero.it",
        "wanadoo.fr",
    ]
)


def domain_of(address: str) -> str:
    return address.rsplit("@", 1)[-1].lower() if "@" in address else ""


def company_of(address: str) -> str:
    """The sender's organisation as far as the address shows: its domain, unless free mail."""
    domain = domain_of(address)
    return "" if domain in FREEMAIL else domain
