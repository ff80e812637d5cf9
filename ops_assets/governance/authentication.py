"""Whether the receiving server authenticated a mail's sender (RFC 8601 Authentication-Results).

`From:` is whatever the sender typed; what the receiving server checked (SPF, DKIM, DMARC) is
in the Authentication-Results header it adds on top. A sender can add more such headers below
it, so only the topmost counts, or, when the policy names its servers (`authserv_ids`), the
topmost of theirs. Intake keeps only the topmost, so every one is read from the item's stored
original (headers only) when it is there.
"""

import email.parser
import email.policy
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from ops_assets.governance.domains import ascii_lower, domain_of

Verdict = Literal["pass", "fail", "unknown"]
HEADER = "authentication-results"
_MAX_HEADER_BYTES = 256 * 1024
_COMMENT = re.compile(r"\([^()]*\)")
_RESULT = re.compile(r"^\s*([a-z0-9_-]+)\s*=\s*([a-z]+)(.*)$", re.I | re.S)
_PROPERTY = re.compile(r"([a-z0-9_-]+\.[a-z0-9_-]+)\s*=\s*(\"[^\"]*\"|[^\s;]+)", re.I)


@dataclass(frozen=True)
class Results:
    """One Authentication-Results header: who wrote it and what each method found."""

    authserv_id: str
    methods: dict[str, list[tuple[str, dict[str, str]]]] = field(default_factory=dict)
    """method -> [(result, properties such as header.d or smtp.mailfrom)]."""


def parse(value: str) -> Results:
    text = value
    while _COMMENT.search(text):
        text = _COMMENT.sub(" ", text)
    parts = [p.strip() for p in text.split(";")]
    authserv = ascii_lower(parts[0].split()[0]) if parts and parts[0].split() else ""
    methods: dict[str, list[tuple[str, dict[str, str]]]] = {}
    for part in parts[1:]:
        found = _RESULT.match(part)
        if found is None:
            continue
        properties = {
            ascii_lower(k): ascii_lower(v.strip('"')) for k, v in _PROPERTY.findall(found.group(3))
        }
        methods.setdefault(ascii_lower(found.group(1)), []).append(
            (ascii_lower(found.group(2)), properties)
        )
    return Results(authserv, methods)


def header_values(item: dict[str, Any]) -> list[str]:
    """The item's Authentication-Results headers, topmost first: every one from the stored
    original (intake keeps only the topmost), else the one the item carries."""
    from_original = _from_original(item)
    if from_original is not None:
        return from_original
    carried = (item.get("headers") or {}).get(HEADER)
    if not carried:
        return []
    return [carried] if isinstance(carried, str) else [str(v) for v in carried]


def _from_original(item: dict[str, Any]) -> list[str] | None:
    path = item.get("original_path")
    if not path or item.get("kind") not in (None, "eml"):
        return None
    try:
        with Path(path).open("rb") as handle:
            raw = handle.read(_MAX_HEADER_BYTES)
    except OSError:
        return None
    head = raw.split(b"\r\n\r\n", 1)[0].split(b"\n\n", 1)[0]
    parsed = email.parser.BytesHeaderParser(policy=email.policy.compat32).parsebytes(head)
    return [" ".join(str(v).split()) for v in parsed.get_all(HEADER) or []]


def _aligned(domain: str, sender_domain: str) -> bool:
    # Relaxed alignment: the same organisational domain, one a subdomain of the other.
    return bool(domain) and (
        domain == sender_domain
        or sender_domain.endswith("." + domain)
        or domain.endswith("." + sender_domain)
    )


def verdict(item: dict[str, Any], authserv_ids: list[str] | tuple[str, ...] = ()) -> Verdict:
    """pass: the receiving server vouches for the From domain (DMARC, or aligned DKIM/SPF, or
    an authenticated submission); fail: it checked and could not (fail, softfail, none, ...);
    unknown: no header from a server we trust."""
    trusted = {ascii_lower(a) for a in authserv_ids}
    headers = [parse(v) for v in header_values(item)]
    chosen = next((h for h in headers if not trusted or h.authserv_id in trusted), None)
    if chosen is None:
        return "unknown"
    sender_domain = domain_of(item.get("sender"))
    methods = chosen.methods

    def passed(method: str, *keys: str) -> bool:
        for result, properties in methods.get(method, []):
            if result != "pass":
                continue
            if not keys:
                return True
            if any(_aligned(domain_of(properties.get(k, "")), sender_domain) for k in keys):
                return True
        return False

    dmarc = methods.get("dmarc", [])
    if any(result == "fail" for result, _ in dmarc):
        return "fail"
    if any(
        result == "pass"
        and _aligned(domain_of(properties.get("header.from", sender_domain)), sender_domain)
        for result, properties in dmarc
    ):
        return "pass"
    if passed("dkim", "header.d", "header.i") or passed("spf", "smtp.mailfrom") or passed("auth"):
        return "pass"
    return "fail"
