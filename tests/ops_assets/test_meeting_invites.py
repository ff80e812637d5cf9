"""Meeting invites: a mail that asks to meet gets a reply proposing the owner's first free
slots (sentence and .ics), held for approval, with no slot offered twice."""

import datetime as dt
import email
import email.policy
import json
import zoneinfo

import icalendar
from support import batch_assets, outcome_assets

from ops_assets.agents.scheduling import asks_to_meet, propose_slots
from ops_assets.governance import controls
from resources.settings.config import Availability, load_config

ASKING = [
    "Could we set up a call next week to go through the redesign?",
    "Can we meet on Thursday?",
    "I'd like to book a quick call about the invoice.",
    "Are you free for a chat tomorrow?",
]
NOT_ASKING = ["We met at the conference last year.", "The call button on the page is broken."]


def test_asks_to_meet_reads_requests_not_mentions() -> None:
    assert all(asks_to_meet({"subject": "", "body": text}) for text in ASKING)
    assert not any(asks_to_meet({"subject": "", "body": text}) for text in NOT_ASKING)


def test_slots_fall_in_the_owners_hours_after_the_lead_time() -> None:
    hours = Availability(timezone="Europe/Lisbon", days=["mon", "wed"], start="10:00", end="11:00")
    friday_evening = dt.datetime(2026, 11, 20, 18, 0, tzinfo=dt.UTC)
    slots = propose_slots(hours, friday_evening)
    lisbon = zoneinfo.ZoneInfo("Europe/Lisbon")
    assert [s.astimezone(lisbon).strftime("%a %H:%M") for s in slots] == [
        "Mon 10:00",
        "Mon 10:30",
        "Wed 10:00",
    ]
    taken = {slots[0].isoformat()}
    assert propose_slots(hours, friday_evening, taken)[0] == slots[1]


def test_a_meeting_request_gets_proposed_slots_held_for_approval_then_sent(bench, tmp_path) -> None:
    mails = []
    for n, sender in enumerate(("ana@clinic.example", "rui@bakery.example")):
        path = tmp_path / f"meet-{n}.json"
        path.write_text(
            json.dumps(
                {
                    "from": f"Client <{sender}>",
                    "subject": "Help with the booking page",
                    "body": "The booking page needs an update. Could we set up a call next "
                    "week to go through it? Thanks for your help.",
                }
            )
        )
        mails.append(path)
    key = bench.intake(mails)
    bench.materialize(batch_assets(), key)
    held = controls.awaiting(bench.store)
    assert {r["rule"] for r in held} == {"meeting_invite"} and len(held) == 2
    first, second = (set(r["invite_slots"]) for r in held)
    assert len(first) == len(second) == 3 and not first & second  # no slot offered twice

    controls.approve(bench.store, load_config(), held[0]["id"])
    bench.materialize(outcome_assets())
    (sent,) = [
        email.message_from_bytes(p.read_bytes(), policy=email.policy.default)
        for p in bench.home.outbox.iterdir()
    ]
    text = sent.get_body(preferencelist=("plain",)).get_content()
    assert "Times that would suit me:" in text
    (attachment,) = list(sent.iter_attachments())
    assert attachment.get_content_type() == "text/calendar"
    calendar = icalendar.Calendar.from_ical(attachment.get_content())
    starts = sorted(e.decoded("dtstart").isoformat() for e in calendar.walk("VEVENT"))
    assert starts == sorted(held[0]["invite_slots"])
    assert all(str(e["status"]) == "TENTATIVE" for e in calendar.walk("VEVENT"))


def test_an_invite_carries_the_owners_time_zone_as_a_vtimezone() -> None:
    from ops_assets.agents.scheduling import invite_ics

    owner = Availability(timezone="Europe/Lisbon", lead_hours=0)
    slots = propose_slots(owner, dt.datetime(2026, 3, 27, 8, tzinfo=dt.UTC))
    ics = invite_ics(
        slots,
        uid="item-1",
        organizer="a@x.example",
        attendee="b@y.example",
        summary="Call",
        minutes=30,
    )
    calendar = icalendar.Calendar.from_ical(ics)
    (zone,) = calendar.walk("VTIMEZONE")
    assert str(zone["TZID"]) == "Europe/Lisbon" and not calendar.get_missing_tzids()
    # The summer-time change two days later is in it: the slots read right on either side.
    assert {str(o["TZOFFSETTO"].to_ical()) for o in zone.subcomponents} >= {"+0000", "+0100"}
    assert calendar.walk("VTIMEZONE") and ics.index(b"BEGIN:VTIMEZONE") < ics.index(b"BEGIN:VEVENT")
    assert (
        invite_ics(
            slots,
            uid="item-1",
            organizer="a@x.example",
            attendee="b@y.example",
            summary="Call",
            minutes=30,
        )
        == ics
    )  # the same invite, the same bytes
