"""The work-item state machine: every input comes to rest in exactly one visible state."""

IN_FLIGHT = ("received", "triaged", "drafted", "reviewed", "approved", "sending")
RESTING = (
    "delivered",
    "no_action",
    "awaiting_approval",
    "awaiting_human",
    "quarantined",
    "duplicate",
    "rejected",
    "deferred",
)
ALL_STATES = IN_FLIGHT + RESTING

# States the batch job still has to move (before the approval gate).
BATCH_PENDING = ("received", "triaged", "drafted", "reviewed")
# States the delivery step drains.
READY_TO_SEND = ("approved", "sending")

ALLOWED: dict[str, frozenset[str]] = {
    "received": frozenset({"triaged", "no_action", "awaiting_human", "deferred", "rejected"}),
    "triaged": frozenset({"drafted", "no_action", "awaiting_human", "deferred", "received"}),
    "drafted": frozenset({"reviewed", "awaiting_human", "deferred", "received"}),
    "reviewed": frozenset(
        {"approved", "awaiting_approval", "awaiting_human", "rejected", "received"}
    ),
    "approved": frozenset({"sending", "awaiting_human", "deferred", "rejected"}),
    "sending": frozenset({"delivered", "awaiting_human", "approved"}),
    "delivered": frozenset({"awaiting_human"}),
    "awaiting_approval": frozenset({"approved", "rejected", "awaiting_human", "received"}),
    # delivered: only by the owner, for a send they checked arrived (`opsbench delivery`).
    "awaiting_human": frozenset({"received", "approved", "rejected", "delivered"}),
    "quarantined": frozenset({"received"}),
    "deferred": frozenset({"received", "approved"}),
    "no_action": frozenset({"received"}),
    "duplicate": frozenset({"received"}),  # only by the operator: "not a duplicate"
    "rejected": frozenset({"received"}),
}


class IllegalTransition(Exception):
    """A state change the state machine does not allow (a bug, never user input)."""


def check_transition(current: str, target: str) -> None:
    if target == current:
        return
    if target not in ALLOWED.get(current, frozenset()):
        raise IllegalTransition(f"{current} -> {target} is not allowed")
