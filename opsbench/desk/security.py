"""The desk's own locks, inside the guard's (Host, Origin, Sec-Fetch-Site, the home's token):
a per-session CSRF token every form carries in a hidden field, and a per-form nonce that makes a
double submit act once.

The session is a random id in its own HttpOnly, SameSite=Strict cookie; the CSRF token is an
HMAC of it under a per-home key kept with the home's other secrets, so nothing is stored per
session and a token from one session is worthless in another."""

import hashlib
import hmac
import secrets
import uuid
from pathlib import Path

from resources.store import Store
from resources.web.keys import home_key

CSRF_KEY = "desk.csrf"
NONCE_PREFIX = "desk_form"


def session_cookie(port: int | None) -> str:
    return f"opsbench_desk_{port or 0}"


def new_session() -> str:
    return secrets.token_urlsafe(24)


def csrf_token(home_root: Path, session: str) -> str:
    key = home_key(home_root, CSRF_KEY).encode()
    return hmac.new(key, session.encode(), hashlib.sha256).hexdigest()


def csrf_valid(home_root: Path, session: str | None, given: str | None) -> bool:
    if not session or not given:
        return False
    return hmac.compare_digest(csrf_token(home_root, session), given)


def new_nonce() -> str:
    return uuid.uuid4().hex


def claim_nonce(store: Store, nonce: str) -> bool:
    """True once per nonce, across processes: the first submit acts, a repeat does not. The
    claim stays in the store's controls (as a lock nobody releases)."""
    if not nonce or len(nonce) > 64 or not nonce.isalnum():
        return False
    return store.acquire_lock(f"{NONCE_PREFIX}:{nonce}", uuid.uuid4().hex, lambda holder: False)
