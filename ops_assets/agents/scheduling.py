"""Meeting invites: a mail that asks to meet gets a reply proposing the owner's first free
slots, as a sentence in the body and an .ics attachment (built with icalendar). Decided by
code — the detection, the slots and the calendar file — never by the model, and the policy
holds every invite for the owner's approval."""

import datetime as dt
import re
import zoneinfo
from typing import Any

from ops_assets.orchestration.workflows import REPLIES, belongs_to
from resources.settings.config import Availability

ASKS_TO_MEET = re.compile(
    r"\b(can|could|shall|should|would|might)\s+we\s+(meet|talk|chat|have a (quick )?call|"
    r"hop on a call|jump on a call|schedule|set up|book|arrange)\b"
    r"|\b(book|schedule|arrange|set up|organi[sz]e)\b[^.\n?]{0,30}\b(meeting|call|demo|chat|"
    r"appointment|video call)\b"
    r"|\bare you (free|available)\b",
    re.I,
)
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def asks_to_meet(item: dict[str, Any]) -> bool:
    return bool(ASKS_TO_MEET.search(f"{item.get('subject') or ''}\n{item.get('body') or ''}"))


def propose_slots(
    availability: Availability, now: dt.datetime, taken: set[str] | None = None
) -> list[dt.datetime]:
    """The first free slots after the lead time, in the owner's hours (aware datetimes in the
    owner's zone). `taken`: ISO starts already offered to someone else."""
    zone = zoneinfo.ZoneInfo(availability.timezone)
    earliest = now.astimezone(zone) + dt.timedelta(hours=availability.lead_hours)
    start_h, start_m = map(int, availability.start.split(":"))
    end_h, end_m = map(int, availability.end.split(":"))
    length = dt.timedelta(minutes=availability.slot_minutes)
    slots: list[dt.datetime] = []
    day = earliest.date()
    for _ in range(60):  # two months of days at most
        if DAYS[day.weekday()] in availability.days:
            slot = dt.datetime(day.year, day.month, day.day, start_h, start_m, tzinfo=zone)
            close = dt.datetime(day.year, day.month, day.day, end_h, end_m, tzinfo=zone)
            while slot + length <= close:
                if slot >= earliest and slot.isoformat() not in (taken or set()):
                    slots.append(slot)
                    if len(slots) == availability.slots_offered:
                        return slots
                slot += length
        day += dt.timedelta(days=1)
    return slots


def offered_slots(store: Any) -> set[str]:
    """Slots already proposed in replies that are still waiting or on their way out."""
    taken: set[str] = set()
    for item in store.items(states=["awaiting_approval", "approved", "sending"]):
        if not belongs_to(item, REPLIES):
            continue  # only a reviewed reply carries an invite
        row = store.get_output(item["id"], "review")
        invite = ((row or {}).get("output") or {}).get("invite") or {}
        taken.update(invite.get("slots") or [])
    return taken


def slots_sentence(slots: list[dt.datetime]) -> str:
    times = [f"{s:%a %d %b, %H:%M} ({s.tzname()})" for s in slots]
    return "Times that would suit me: " + "; ".join(times) + ". The invite is attached."


def invite_ics(
    slots: list[dt.datetime],
    *,
    uid: str,
    organizer: str,
    attendee: str,
    summary: str,
    minutes: int,
) -> bytes:
    """One tentative event per proposed slot; the attendee accepts the one that suits. The
    owner's time zone travels with it as a VTIMEZONE (icalendar's add_missing_timezones)."""
    import icalendar

    calendar = icalendar.Calendar()
    calendar.add("prodid", "-//Opsbench//meeting invite//EN")
    calendar.add("version", "2.0")
    calendar.add("method", "PUBLISH")
    for n, start in enumerate(slots):
        event = icalendar.Event()
        event.add("uid", f"{uid}-{n}")
        event.add("dtstamp", start)  # deterministic: the same invite has the same bytes
        event.add("dtstart", start)
        event.add("dtend", start + dt.timedelta(minutes=minutes))
        event.add("summary", f"{summary} (proposed time {n + 1} of {len(slots)})")
        event.add("status", "TENTATIVE")
        event.add("organizer", f"mailto:{organizer}")
        event.add("attendee", f"mailto:{attendee}")
        calendar.add_component(event)
    if slots:
        # A TZID without its VTIMEZONE leaves the zone to the reader's guess (Outlook guesses
        # wrong): the definition goes in, covering the slots and the year after them (the
        # range follows the slots, so the same invite still has the same bytes).
        calendar.add_missing_timezones(
            first_date=min(slots).date() - dt.timedelta(days=31),
            last_date=max(slots).date() + dt.timedelta(days=366),
        )
    return calendar.to_ical()
