"""IMAP IDLE: mail registered as soon as the server says it arrived, instead of at the inbox
sensor's next tick. One thread per account (`idle: true`, the default) waits in IDLE on its
first folder; when the server reports a change, or the wait times out, it reads the account
through `imap_tick` (the same path, lock and state as the sensor's). A server without IDLE is
polled every `poll_s` instead. The inbox sensor keeps reading every account on its own ticks:
this watcher only makes mail arrive sooner, so a missed IDLE event costs latency, never mail.

Run beside the daemon: `python -m sensors.imap_idle` (the `opsbench run` supervisor starts
it when an account says `idle`). Connection failures are the tick's: alerted, backed off."""

import argparse
import logging
import threading
import time
from collections.abc import Callable

from resources.connectors.imap import ImapUnavailable, imap_session
from resources.connectors.imap_config import ImapAccount
from resources.settings.config import Config, ConfigError, load_config
from resources.settings.environment import secret_value
from resources.settings.home import Home, open_home
from resources.store import Store
from resources.store.resource import store_for
from sensors.imap_intake import imap_tick

IDLE_S = 60.0  # re-issue IDLE at least this often (RFC 2177: before 29 minutes)
POLL_S = 5.0  # a server without IDLE: as often as the inbox sensor ticks
RETRY_S = 5.0

logger = logging.getLogger(__name__)


def wait_for_change(account: ImapAccount, *, timeout_s: float) -> bool | None:
    """Wait in IDLE on the account's first folder: True when the server reported a change,
    False on a timeout, None when it offers no IDLE (the caller polls instead)."""
    password = secret_value(account.password_env) or ""
    with imap_session(account, password) as session:
        if not session.can_idle():
            return None
        return session.wait_for_mail(account.folders[0], timeout_s)


def watch_account(
    store: Store,
    home: Home,
    config: Callable[[], Config],
    account: ImapAccount,
    stop: threading.Event,
    *,
    idle_s: float = IDLE_S,
    poll_s: float = POLL_S,
    on_tick: Callable[[int], None] = lambda registered: None,
) -> None:
    """Read, wait for a change (IDLE, or `poll_s`), read again, until `stop` is set."""
    while not stop.is_set():
        registered = imap_tick(store, home, config(), only=account.name).registered
        on_tick(registered)
        if stop.is_set():
            return
        try:
            changed = wait_for_change(account, timeout_s=idle_s)
        except ImapUnavailable as exc:
            logger.warning("IDLE on %s failed (%s); reading again later", account.name, exc.code)
            stop.wait(RETRY_S)
            continue
        if changed is None:
            stop.wait(poll_s)


def watch(
    store: Store,
    home: Home,
    config: Callable[[], Config],
    stop: threading.Event,
    **options: float,
) -> list[threading.Thread]:
    """One watcher thread per account with `idle: true`; they end when `stop` is set."""
    threads = [
        threading.Thread(
            target=watch_account,
            args=(store, home, config, account, stop),
            kwargs=options,
            name=f"imap-idle-{account.name}",
            daemon=True,
        )
        for account in config().intake.imap
        if account.idle
    ]
    for thread in threads:
        thread.start()
    return threads


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--config", default=None)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO)
    home = open_home()
    store = store_for(home.store_url)
    stop = threading.Event()
    try:
        threads = watch(store, home, lambda: load_config(args.config), stop)
    except ConfigError as exc:
        raise SystemExit(f"config error: {exc}") from exc
    if not threads:
        raise SystemExit("no IMAP account with idle: true in the config")
    try:
        while any(t.is_alive() for t in threads):
            time.sleep(1)
    except KeyboardInterrupt:
        stop.set()


if __name__ == "__main__":
    main()
