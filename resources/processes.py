"""Child process groups: started in their own session, stopped together (TERM, then KILL)."""

import contextlib
import os
import signal
import time
from collections.abc import Callable


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # alive, someone else's
    return True


def signal_group(pid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, sig)


def stop_group(pid: int, alive: Callable[[], bool], grace_s: float = 10.0) -> None:
    """SIGTERM the group, wait up to `grace_s` for `alive()` to turn False, then SIGKILL."""
    if not alive():
        return
    signal_group(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    while time.monotonic() < deadline and alive():
        time.sleep(0.1)
    if alive():
        signal_group(pid, signal.SIGKILL)
