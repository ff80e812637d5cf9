"""When a mail domain counts as one we know, decided by code: exactly, never by resemblance.

A domain is known when it is, character for character, one the operator listed or one we
delivered to. Only ASCII letters are case-folded (Python's `lower()` turns a Kelvin sign into a
Latin k), nothing is normalised: "c1ient.example", "xn--clent-8ya.example" (with a Cyrillic
letter) and "client.example." are other domains. Their resemblance to a known domain is what
`lookalike_of` reports, as a reason to hold, never as a reason to trust.
"""

import contextlib
import re
from collections.abc import Iterable

from ops_assets.governance.normalize import for_rules

_ASCII_UPPER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")
_HOSTNAME = re.compile(r"^(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z0-9-]{2,63}$")
# What a reader takes for the same letters in a domain (after homoglyphs are folded).
_LOOKS_SAME = (("rn", "m"), ("vv", "w"), ("0", "o"), ("1", "l"))


def ascii_lower(text: str) -> str:
    return text.translate(_ASCII_UPPER)


def domain_of(address: str | None) -> str:
    """The domain part as written (ASCII case-folded, surrounding space dropped)."""
    return ascii_lower((address or "").rsplit("@", 1)[-1].strip())


def is_hostname(domain: str) -> bool:
    """A host name (labels of letters, digits and inner hyphens, an IDN in either form): no
    wildcard, no underscore, no trailing dot. Whether it is *known* is `is_known`'s question."""
    if _HOSTNAME.match(domain):
        return True
    try:
        encoded = domain.encode("idna").decode("ascii")
    except UnicodeError:
        return False
    return encoded != domain and bool(_HOSTNAME.match(ascii_lower(encoded)))


def is_known(domain: str, known: Iterable[str]) -> bool:
    """Exactly one of the known domains (character for character), and a host name."""
    return is_hostname(domain) and domain in {ascii_lower(d.strip()) for d in known}


def skeleton(domain: str) -> str:
    """What a domain looks like to a reader: punycode decoded, homoglyphs folded, and letters
    that pass for others ("rn" for "m", "1" for "l") made one."""
    labels = []
    for label in ascii_lower(domain).strip(".").split("."):
        if label.startswith("xn--"):
            with contextlib.suppress(UnicodeError):  # not valid punycode: compare as is
                label = label.encode("ascii").decode("idna")
        labels.append(label)
    folded = for_rules(".".join(labels)).lower()
    for look, same in _LOOKS_SAME:
        folded = folded.replace(look, same)
    return folded


def lookalike_of(domain: str, known: Iterable[str]) -> str | None:
    """The known domain this one imitates (looks the same, is not the same), else None."""
    if not domain:
        return None
    mine = skeleton(domain)
    for candidate in {ascii_lower(d.strip()) for d in known}:
        if candidate and candidate != domain and skeleton(candidate) == mine:
            return candidate
    return None
