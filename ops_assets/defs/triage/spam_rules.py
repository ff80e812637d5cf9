"""Deterministic spam rules: mail that is spam by who it pretends to be or by what it asks
for, whatever its wording around that. Each is a rule a mail filter has carried for years:

- **impersonation**: the sender's domain carries a brand people trust with their logins or
  money ("paypal-alerts.example", "paypa1.example") but is not that brand's own domain, or it
  imitates the owner's own domain ("northwind-payroll.example", "northwlnd.example");
- **credential phishing**: a request to verify, confirm or re-enter a login, a password, an
  identity or card details, with a threat, a deadline or a link to do it at (bank details are
  left out: a client about to pay may well ask the owner to confirm theirs);
- **scams**: lottery wins, unclaimed fortunes, gift-card favours, wallet seed phrases,
  pills without prescription, "earn N a day";
- **bought reach**: guaranteed rankings, guest posts with links, bought reviews, lists of
  addresses for sale.

They stop only what a legitimate client does not write: a client says "I cannot log in" or
"our bank details changed", not "confirm your password within 24 hours". Everything else is
the classifier's and the model's to read. The text is the normalised one (`for_rules`:
accents, homoglyphs and invisible characters undone), so the patterns are written without
accents.
"""

import re
from collections.abc import Iterable

from ops_assets.governance.addresses import registrable_domain
from ops_assets.governance.domains import domain_of, skeleton

# Brands whose look-alike domains carry most phishing: payments, parcels, mail and office
# suites, social networks, banks. A brand's own domain is one whose registrable name is the
# brand itself (paypal.com, paypal.de, mail.google.co.uk). Brands that are also ordinary words
# (apple, chase, ing, ups) are left out: a bakery's "apple-tree.example" is no phishing.
BRANDS = frozenset(
    {
        "paypal", "stripe", "microsoft", "office365", "google", "gmail", "icloud", "amazon",
        "netflix", "docusign", "dropbox", "linkedin", "facebook", "instagram", "whatsapp",
        "dhl", "fedex", "usps", "laposte", "poste", "sparkasse", "volksbank", "santander",
        "wellsfargo", "adobe", "wetransfer", "coinbase", "binance", "godaddy", "ionos",
    }
)  # fmt: skip

_VERIFY = (
    r"verify|verifiez|verifique|verifica|verifizier\w*|confirm|confirmez|confirme|conferm\w*|"
    r"bestatig\w*|re-?validate|re-?enter"
)
_CREDENTIAL = (
    r"identity|password|passcode|credentials|login details|sign-in details|card details|"
    r"account details|seed phrase|recovery phrase|identite|mot de passe|identidad|contrasena|"
    r"datos|daten|passwort|zugangsdaten|dati|credenziali|gegevens|wachtwoord"
)
_THREAT = (
    r"within \d+ ?(hours|h|days)|in \d+ ?(hours|h)|sous \d+ ?h|entro \d+ ?ore|innerhalb von "
    r"\d+|immediately|suspended|suspend\w*|limited|locked|blocked|closed|permanently|"
    r"unusual activity|unauthori[sz]ed|gesperrt|sperrung|bloque\w*|suspendu|sospes\w*|"
    r"inmediatamente|subito|sofort|click here|klicken sie|cliquez|haga clic|clicca|"
    r"https?://|the following link|folgenden link|lien suivant|siguiente enlace|link seguente"
)
CREDENTIAL_PHISHING = re.compile(
    rf"\b({_VERIFY})\b[^.\n]{{0,25}}\b(your|yours|ihre?n?|vos|votre|sus?|tuoi|tu|je|uw)\b"
    rf"[^.\n]{{0,25}}\b({_CREDENTIAL})\b",
    re.I,
)
THREAT_OR_LINK = re.compile(rf"\b({_THREAT})", re.I)
SCAM = re.compile(
    # A lottery the reader never entered ("a raffle page for our charity" is a client's).
    r"\b(you have won|your (e-?mail )?(address )?has won|claim your (prize|winnings)|"
    r"(e-?mail|international|online) lottery|lottery (winner|prize)|loteria internacional|"
    r"sie haben [^.\n]{0,30}gewonnen|vous avez gagne|ha ganado|hai vinto|"
    r"unclaimed (sum|funds|inheritance|fortune)|next of kin|transfer the funds|"
    r"heritage non reclame|gift cards?\b[^.\n]{0,40}\bcodes|"
    r"seed phrase|recovery phrase|without (a )?prescription|ed pills|"
    r"earn \S+ (per|a) (day|hour)|\d+ ?% (per|a) day|work from home[^.\n]{0,40}earn|"
    r"trading bot)",
    re.I,
)
BOUGHT_REACH = re.compile(
    r"\b(page (one|1) (of|on) google|first page of google|guaranteed (seo|ranking|"
    r"traffic|leads|first page)|guest post (opportunity|with a)|dofollow|do-follow|backlinks? "
    r"(package|service)|(get|buy)( your business)? \d+ (five|5)[- ]star|verified (email|"
    r"contact) list|email list of|b2b (contact|email) (database|list)|platz 1 bei google|"
    r"premiere page de google|primera pagina de google)",
    re.I,
)


def _labels(domain: str) -> list[str]:
    """The hyphen- and dot-separated words of a domain's registrable part."""
    return re.split(r"[-.]", registrable_domain(domain))


def brand_impersonated(sender: str) -> str | None:
    """The brand a sender's domain carries without being that brand's own domain."""
    domain = domain_of(sender)
    if not domain:
        return None
    own = registrable_domain(domain).split(".")[0]
    if own in BRANDS:
        return None  # the brand's own domain (paypal.com, mail.google.co.uk)
    for word in _labels(skeleton(domain)):
        if word in BRANDS:
            return word
    folded = skeleton(own)
    return folded if folded in BRANDS else None


def _one_edit_apart(a: str, b: str) -> bool:
    """A letter changed, added or dropped: "northwlnd" for "northwind"."""
    if a == b or abs(len(a) - len(b)) > 1:
        return False
    if len(a) == len(b):
        return sum(x != y for x, y in zip(a, b, strict=True)) == 1
    short, long = sorted((a, b), key=len)
    return any(long[:n] + long[n + 1 :] == short for n in range(len(long)))


def owner_domain_imitated(sender: str, owner_addresses: Iterable[str]) -> str | None:
    """The owner's domain a sender's domain imitates: one letter off ("northwlnd"), a look-
    alike ("n0rthwind"), or the owner's name with a word added ("northwind-payroll")."""
    domain = domain_of(sender)
    if not domain:
        return None
    mine = registrable_domain(domain)
    for owner in {registrable_domain(domain_of(a)) for a in owner_addresses if "@" in a}:
        if not owner or mine == owner:
            continue
        name, their = owner.split(".")[0], mine.split(".")[0]
        if len(name) < 4:
            continue  # a short name is a common word in other companies' domains too
        words = re.split(r"-", their)
        folded = skeleton(their)
        if (
            (name in words and len(words) > 1)
            or folded == skeleton(name)
            or _one_edit_apart(folded, skeleton(name))
        ):
            return owner
    return None


def spam_reason(sender: str, subject: str, body: str, owner_addresses: Iterable[str]) -> str | None:
    """Why the mail is spam by rule (subject and body normalised), else None."""
    brand = brand_impersonated(sender)
    if brand:
        return f"the sender's domain imitates {brand} without being its own"
    owner = owner_domain_imitated(sender, owner_addresses)
    if owner:
        return f"the sender's domain imitates the owner's own ({owner})"
    text = f"{subject}\n{body}"
    if CREDENTIAL_PHISHING.search(text) and THREAT_OR_LINK.search(text):
        return "asks to confirm a login, identity or bank details, with a threat or a link"
    if SCAM.search(text):
        return "reads as a scam (prize, fortune, gift cards, seed phrase, easy money)"
    if BOUGHT_REACH.search(text):
        return "sells rankings, links, reviews or address lists"
    return None
