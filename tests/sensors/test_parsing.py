"""Tests for sensors.parsing: every quarantine code, the sample and hostile inboxes, a fuzz loop.

The parser's contract is that any bytes either become a ParsedMessage or raise UnusableInput with
one of QUARANTINE_CODES; nothing else may escape, and hostile input must not be slow.
"""

from __future__ import annotations

import contextlib
import json
import random
import time
from pathlib import Path

import pytest

from sensors.parsing import (
    QUARANTINE_CODES,
    SUPPORTED_SUFFIXES,
    ParsedMessage,
    UnusableInput,
    parse_input,
)

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "samples" / "inbox"
HOSTILE = ROOT / "tests" / "data" / "hostile_inbox"
HOSTILE_EXPECTED = json.loads((ROOT / "tests" / "data" / "hostile_expected.json").read_text())

SECRET = "ZEBRA-7731"  # planted in bodies to prove that reasons never quote body text

HEAD = (
    b"From: Jo Bloggs <Jo@Example.com>\r\n"
    b"To: alex@northwind.example\r\n"
    b"Subject: Hello\r\n"
    b"Date: Tue, 05 Mar 2024 10:00:00 +0000\r\n"
    b"Message-ID: <abc123@example.com>\r\n"
    b"MIME-Version: 1.0\r\n"
)


def mail(extra_headers: bytes = b"", body: bytes = b"Hi " + SECRET.encode() + b"\r\n") -> bytes:
    return HEAD + extra_headers + b"\r\n" + body


def work_item(**fields: object) -> bytes:
    item: dict[str, object] = {"from": "jo@example.com", "subject": "Hi", "body": "Hello"}
    item.update(fields)
    return json.dumps({k: v for k, v in item.items() if v is not ...}).encode()


def quarantine(name: str, data: bytes, **limits: int) -> UnusableInput:
    with pytest.raises(UnusableInput) as caught:
        parse_input(name, data, **limits)
    return caught.value


def hostile_bytes(name: str) -> bytes:
    if HOSTILE_EXPECTED[name].get("generated_by_test"):
        assert name == "oversize.eml", "only the oversize mail is generated"
        valid = (HOSTILE / "valid-question.eml").read_bytes()
        return valid + b"x" * 1_000_001  # over the default 1 MB limit
    return (HOSTILE / name).read_bytes()


# --------------------------------------------------------------------------- interface


def test_interface_constants() -> None:
    assert QUARANTINE_CODES == (
        "not_email",
        "broken_mime",
        "undecodable_charset",
        "oversize",
        "invalid_json_item",
        "unsupported_type",
    )
    assert SUPPORTED_SUFFIXES == (".eml", ".json", "")


def test_unusable_input_is_one_line_and_checks_its_code() -> None:
    error = UnusableInput("broken_mime", "first line\r\nsecond line")
    assert (error.code, error.reason) == ("broken_mime", "first line second line")
    with pytest.raises(ValueError):
        UnusableInput("no_such_code", "whatever")


def test_plain_mail_fields() -> None:
    parsed = parse_input("m.eml", mail(b"Reply-To: <Help@Example.com>\r\n"))
    assert parsed == ParsedMessage(
        kind="eml",
        sender="jo@example.com",
        sender_name="Jo Bloggs",
        to=("alex@northwind.example",),
        reply_to="help@example.com",
        subject="Hello",
        body=f"Hi {SECRET}",
        message_id="<abc123@example.com>",
        in_reply_to=None,
        references=(),
        received_at="2024-03-05T10:00:00+00:00",
        headers={},
        has_attachments=False,
    )


# --------------------------------------------------------------------------- quarantine codes

HUGE_CT = b"Content-Type: text/plain; x=" + b'"' * 3000 + b"\r\n"
MANY_PARTS = b"".join(b"--b\r\nContent-Type: text/plain\r\n\r\npart\r\n" for _ in range(201))

QUARANTINE_CASES = [
    # (name, data, code)
    ("empty.eml", b"", "not_email"),
    ("blank.eml", b" \r\n\t\r\n", "not_email"),
    ("png.eml", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)), "not_email"),
    ("nul.eml", b"From: jo@example.com\r\nSub\x00ject: x\r\n\r\nhi", "not_email"),
    ("binary.eml", b"From: jo@example.com\r\nX: \x01\x02\x03\x04\x05\x06\r\n\r\nhi", "not_email"),
    ("prose.eml", f"Dear Alex, here is my note {SECRET}.\n".encode(), "not_email"),
    ("no-from.eml", b"To: alex@northwind.example\r\nSubject: x\r\n\r\nhi", "not_email"),
    ("bad-from.eml", b"From: Jo Bloggs\r\n\r\nhi", "not_email"),
    ("null-from.eml", b"From: <>\r\n\r\nhi", "not_email"),
    ("two-at-from.eml", b"From: <a@b@example.com>\r\n\r\nhi", "not_email"),
    ("undecodable-from.eml", b"From: j\xffo@example.com\r\n\r\nhi", "not_email"),
    # The modern policy's address parser raises IndexError on this value.
    ("raising-from.eml", b'From: \t=?<"\r\n\r\nhi', "not_email"),
    (
        "no-boundary.eml",
        mail(b"Content-Type: multipart/mixed\r\n", b"--b\r\n\r\nhi\r\n--b--"),
        "broken_mime",
    ),
    (
        "wrong-boundary.eml",
        mail(b'Content-Type: multipart/mixed; boundary="zz"\r\n', b"--b\r\n\r\nhi\r\n--b--"),
        "broken_mime",
    ),
    (
        "no-text-part.eml",
        mail(
            b'Content-Type: multipart/mixed; boundary="b"\r\n',
            b"--b\r\nContent-Type: image/png\r\nContent-Transfer-Encoding: base64\r\n\r\n"
            b"iVBORw0K\r\n--b--\r\n",
        ),
        "broken_mime",
    ),
    (
        "nested-broken.eml",
        mail(
            b'Content-Type: multipart/mixed; boundary="b"\r\n',
            b"--b\r\nContent-Type: multipart/alternative\r\n\r\nhi\r\n--b--\r\n",
        ),
        "broken_mime",
    ),
    ("image-only.eml", mail(b"Content-Type: image/gif\r\n", b"GIF89a"), "broken_mime"),
    # email.message_from_bytes itself raises IndexError on this Content-Type.
    ("raising-content-type.eml", mail(b"Content-Type: ;filename*0*\r\n"), "broken_mime"),
    (
        "klingon.eml",
        mail(b'Content-Type: text/plain; charset="x-unknown-klingon"\r\n'),
        "undecodable_charset",
    ),
    (
        "codec-not-charset.eml",
        mail(b"Content-Type: text/plain; charset=base64\r\n"),
        "undecodable_charset",
    ),
    (
        "python-only-codec.eml",
        mail(b"Content-Type: text/plain; charset=unicode_escape\r\n"),
        "undecodable_charset",
    ),
    (
        "bad-utf8.eml",
        mail(b"Content-Type: text/plain; charset=utf-8\r\n", b"caf\xff\xfe"),
        "undecodable_charset",
    ),
    ("no-charset-latin1.eml", mail(body=b"caf\xe9 " + SECRET.encode()), "undecodable_charset"),
    (
        "ascii-8bit.eml",
        mail(b"Content-Type: text/plain; charset=us-ascii\r\n", b"caf\xe9"),
        "undecodable_charset",
    ),
    (
        "bad-base64-payload.eml",
        mail(
            b"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n",
            b"//79\r\n",
        ),
        "undecodable_charset",
    ),
    ("huge-header.eml", HEAD + b"X-Filler: " + b"a" * 70_000 + b"\r\n\r\nhi", "oversize"),
    ("huge-content-type.eml", mail(HUGE_CT), "oversize"),
    (
        "many-parts.eml",
        mail(b'Content-Type: multipart/mixed; boundary="b"\r\n', MANY_PARTS + b"--b--\r\n"),
        "oversize",
    ),
    ("missing-body.json", work_item(body=...), "invalid_json_item"),
    ("missing-from.json", work_item(**{"from": ...}), "invalid_json_item"),
    ("missing-subject.json", work_item(subject=...), "invalid_json_item"),
    ("number-body.json", work_item(body=42), "invalid_json_item"),
    ("bad-from.json", work_item(**{"from": "not an address"}), "invalid_json_item"),
    (
        "crlf-from.json",
        work_item(**{"from": "jo@example.com\r\nBcc: x@evil.example"}),
        "invalid_json_item",
    ),
    (
        "surrogate-from.json",
        b'{"from": "\\ud800@example.com", "subject": "s", "body": "b"}',
        "invalid_json_item",
    ),
    ("bad-to.json", work_item(to=["alex@northwind.example", 7]), "invalid_json_item"),
    ("bad-message-id.json", work_item(message_id=12), "invalid_json_item"),
    ("bad-received-at.json", work_item(received_at=1709632800), "invalid_json_item"),
    (
        "list.json",
        b'[{"from": "jo@example.com", "subject": "s", "body": "b"}]',
        "invalid_json_item",
    ),
    ("string.json", b'"just a string"', "invalid_json_item"),
    ("syntax.json", b'{"from": "jo@example.com", "body": ' + SECRET.encode(), "invalid_json_item"),
    (
        "latin1.json",
        '{"from": "jo@example.com", "subject": "é", "body": "b"}'.encode("latin-1"),
        "invalid_json_item",
    ),
    ("deep.json", b"[" * 100_000 + b"]" * 100_000, "invalid_json_item"),
    ("empty.json", b"", "invalid_json_item"),
    ("notes.txt", b"From: jo@example.com\r\n\r\nhi", "unsupported_type"),
    ("invoice.pdf", b"%PDF-1.4\n", "unsupported_type"),
    ("archive.mbox", mail(), "unsupported_type"),
    ("1710324000.report.pdf", mail(), "unsupported_type"),  # not a Maildir name
]


@pytest.mark.parametrize(
    ("name", "data", "code"), QUARANTINE_CASES, ids=[c[0] for c in QUARANTINE_CASES]
)
def test_quarantine(name: str, data: bytes, code: str) -> None:
    error = quarantine(name, data)
    assert error.code == code
    assert error.reason and "\n" not in error.reason and "\r" not in error.reason
    assert SECRET not in error.reason


def test_every_quarantine_code_is_exercised() -> None:
    assert {code for _, _, code in QUARANTINE_CASES} == set(QUARANTINE_CODES)


def test_size_is_checked_before_anything_else() -> None:
    assert quarantine("x.pdf", b"x" * 11, max_bytes=10).code == "oversize"
    assert quarantine("x.json", b"{" * 11, max_bytes=10).code == "oversize"
    assert parse_input("x.eml", mail(), max_bytes=len(mail())).sender == "jo@example.com"


def test_reasons_name_the_problem() -> None:
    assert "boundary" in quarantine("a.eml", mail(b"Content-Type: multipart/mixed\r\n")).reason
    klingon = mail(b'Content-Type: text/plain; charset="x-unknown-klingon"\r\n')
    assert "x-unknown-klingon" in quarantine("a.eml", klingon).reason
    assert "'body'" in quarantine("a.json", work_item(body=...)).reason
    assert "'to'" in quarantine("a.json", work_item(to=5)).reason
    assert "list" in quarantine("a.json", b"[]").reason


# --------------------------------------------------------------------------- sample inbox

SAMPLE_FILES = sorted(SAMPLES.iterdir())


def test_sample_inbox_has_the_expected_mix() -> None:
    assert len(SAMPLE_FILES) == 8
    assert sum(p.suffix == ".json" for p in SAMPLE_FILES) == 1
    assert all(p.suffix in (".eml", ".json") for p in SAMPLE_FILES)


@pytest.mark.parametrize("path", SAMPLE_FILES, ids=lambda p: p.name)
def test_sample_inbox_parses(path: Path) -> None:
    parsed = parse_input(path.name, path.read_bytes())
    assert parsed.kind == path.suffix.lstrip(".")
    assert parsed.to == ("alex@northwind.example",)
    assert parsed.message_id and parsed.received_at and parsed.subject and parsed.body
    domain = parsed.sender.rsplit("@", 1)[1]
    assert domain.endswith((".example", "example.com", "example.org"))


def sample(name: str) -> ParsedMessage:
    return parse_input(name, (SAMPLES / name).read_bytes())


def test_sample_triage_headers() -> None:
    newsletter = sample("newsletter-webdev-weekly.eml")
    assert newsletter.headers["precedence"] == "bulk"
    assert newsletter.headers["list-id"] == "WebDev Weekly <weekly.webdevweekly.example.org>"
    assert "list-unsubscribe" in newsletter.headers
    auto_reply = sample("auto-reply-out-of-office.eml")
    assert auto_reply.headers["auto-submitted"] == "auto-replied"
    assert auto_reply.in_reply_to == "<20240311072958.alex.4410@northwind.example>"
    assert len(auto_reply.references) == 2
    assert sample("spam-seo-offer.eml").headers["x-spam-flag"] == "YES"


def test_sample_details() -> None:
    invoice = sample("billing-invoice-question.eml")
    assert invoice.has_attachments and "INV-2024-031" in invoice.body
    assert "JVBER" not in invoice.body  # the base64 PDF is not the body
    refund = sample("billing-double-charge.eml")
    assert refund.sender_name == "José Martínez"
    assert refund.subject == "Charged twice for March hosting \u2013 refund?"
    assert refund.reply_to == "billing@casamartinez.example.org"
    quote = sample("sales-quote-request.eml")
    assert quote.body.startswith("Hi Alex,") and "<" not in quote.body  # text/plain preferred
    login = sample("support-login-problem.eml")
    assert "\r" not in login.body and "Invalid credentials\" \u2013 I haven't" in login.body
    item = sample("support-update-page.json")
    assert item.kind == "json" and item.sender_name == "Tomás Ortega"
    assert item.received_at == "2024-03-06T14:03:11+01:00"


# --------------------------------------------------------------------------- hostile inbox


def test_hostile_expectations_cover_the_directory() -> None:
    on_disk = {p.name for p in HOSTILE.iterdir()}
    committed = {n for n, e in HOSTILE_EXPECTED.items() if not e.get("generated_by_test")}
    assert on_disk == committed
    assert all((HOSTILE / n).stat().st_size < 20_000 for n in on_disk)
    for expectation in HOSTILE_EXPECTED.values():
        assert expectation["parse"] in ("ok", "quarantine")
        if expectation["parse"] == "quarantine":
            assert expectation["reason_code"] in QUARANTINE_CODES


@pytest.mark.parametrize("name", sorted(HOSTILE_EXPECTED))
def test_hostile_inbox(name: str) -> None:
    expected = HOSTILE_EXPECTED[name]
    data = hostile_bytes(name)
    if expected["parse"] == "ok":
        parsed = parse_input(name, data)
        assert parsed.sender and "\n" not in parsed.subject
    else:
        assert quarantine(name, data).code == expected["reason_code"]


def hostile(name: str) -> ParsedMessage:
    return parse_input(name, hostile_bytes(name))


def test_hostile_duplicates_parse_to_comparable_items() -> None:
    original = hostile("valid-question.eml")
    assert hostile("exact-duplicate.eml") == original
    near = hostile("near-duplicate.eml")
    assert near.message_id != original.message_id
    assert (near.sender, near.body) == (original.sender, original.body)


def test_hostile_prompt_injection_is_kept_as_plain_data() -> None:
    parsed = hostile("prompt-injection.eml")
    assert "Ignore previous instructions" in parsed.body
    assert "attacker@evil.example" in parsed.body
    assert parsed.sender == "finance@example.com" and parsed.reply_to is None


def test_hostile_auto_reply_and_bounce_keep_their_markers() -> None:
    assert hostile("auto-reply.eml").headers["auto-submitted"] == "auto-replied"
    bounce = hostile("bounce.eml")
    assert bounce.sender == "mailer-daemon@mx.northwind.example"
    assert bounce.headers["content-type"] == "multipart/report"
    assert bounce.headers["return-path"] == "<>"
    assert "could not\nbe delivered" in bounce.body


def test_hostile_long_subject_is_single_line_and_truncated() -> None:
    subject = hostile("long-subject-header-injection.eml").subject
    assert "\r" not in subject and "\n" not in subject
    assert 990 < len(subject) <= 998  # 1,000 decoded characters, CR LF folded to one space
    assert subject.startswith("URGENT Bcc: x@evil.example please read")


def test_hostile_html_only_body_becomes_text() -> None:
    body = hostile("html-only.eml").body
    assert body.startswith("Hi Alex,")
    assert (
        "Your order #4411 of 2 \u00d7 USB-C cables has shipped & should arrive on Friday." in body
    )
    for leftover in ("<", "tracking", "color: red", "Order shipped", "DOCTYPE"):
        assert leftover not in body


# --------------------------------------------------------------------------- edge cases


def test_modern_policy_header_errors_do_not_escape() -> None:
    # Each of these values makes email.policy.default raise when the header is read.
    parsed = parse_input(
        "x.eml",
        b'From: jo@example.com\r\nTo: =?@[\xff\r\nMessage-ID: <;@\r\nReply-To: \t=?<"\r\n\r\nhi',
    )
    assert parsed.sender == "jo@example.com"
    assert parsed.to == () and parsed.reply_to is None
    assert parsed.message_id == "<;@"


def test_encoded_display_name_cannot_become_the_address() -> None:
    raw = b"From: =?utf-8?q?boss=40northwind=2Eexample_=3Cboss=40northwind=2Eexample=3E?= "
    parsed = parse_input("x.eml", raw + b"<mallory@example.com>\r\n\r\nhi")
    assert parsed.sender == "mallory@example.com"
    assert parsed.sender_name == "boss@northwind.example <boss@northwind.example>"


def test_html_to_text_details() -> None:
    html = (
        b"<html><head><style>b{}</style><title>T</title></head><body><p>One&nbsp;&amp; two</p>"
        b"<p>Three<br>four</p><script>alert('x')</script>1 < 2</body></html>"
    )
    body = parse_input("h.eml", mail(b"Content-Type: text/html; charset=utf-8\r\n", html)).body
    assert body == "One & two\n\nThree\nfour\n1 < 2"


def test_plain_text_is_preferred_over_html() -> None:
    data = mail(
        b'Content-Type: multipart/alternative; boundary="b"\r\n',
        b"--b\r\nContent-Type: text/html\r\n\r\n<p>html</p>\r\n"
        b"--b\r\nContent-Type: text/plain\r\n\r\nplain\r\n--b--\r\n",
    )
    assert parse_input("a.eml", data).body == "plain"


def test_text_inside_forwarded_message_is_found() -> None:
    inner = b"From: old@example.com\r\nSubject: old\r\n\r\nforwarded text\r\n"
    parsed = parse_input("f.eml", mail(b"Content-Type: message/rfc822\r\n", inner))
    assert parsed.body == "forwarded text"


def test_unclosed_multipart_still_yields_the_body() -> None:
    data = mail(b'Content-Type: multipart/mixed; boundary="b"\r\n', b"--b\r\n\r\ntruncated")
    assert parse_input("t.eml", data).body == "truncated"


def test_limits_and_cleanup() -> None:
    parsed = parse_input("b.eml", mail(body=b"x\x00y\r\n" + b"z" * 500), max_body_chars=100)
    assert parsed.body.startswith("xy\nzzz") and len(parsed.body) == 100
    long_subject = HEAD.replace(b"Subject: Hello", b"Subject: " + b"s " * 1000) + b"\r\nhi"
    assert len(parse_input("s.eml", long_subject).subject) == 998


def test_dates() -> None:
    utc_unknown = HEAD.replace(b"+0000", b"-0000") + b"\r\nhi"
    assert parse_input("d.eml", utc_unknown).received_at == "2024-03-05T10:00:00+00:00"
    no_date = HEAD.replace(b"Tue, 05 Mar 2024", b"Funday, 99 Foo") + b"\r\nhi"
    assert parse_input("d.eml", no_date).received_at is None
    assert parse_input("d.json", work_item(received_at="yesterday")).received_at is None
    naive = parse_input("d.json", work_item(received_at="2024-03-05T10:00:00"))
    assert naive.received_at == "2024-03-05T10:00:00+00:00"


def test_file_names_and_suffixes() -> None:
    data = mail()
    assert parse_input("UPPER.EML", data).kind == "eml"
    assert parse_input("new/1710324000.M1P2Q3.mx.northwind.example:2,S", data).kind == "eml"
    assert parse_input("cur/1710324000.12345_1.host", data).kind == "eml"
    assert parse_input("no-extension", data).kind == "eml"
    assert parse_input("bom.eml", b"\xef\xbb\xbf" + data).sender == "jo@example.com"
    assert parse_input("mbox-style.eml", b"From jo@example.com Tue Mar  5\n" + data).subject


def test_internationalised_sender_is_kept() -> None:
    raw = "From: José <José@Exämple.com>\r\n\r\nhola".encode()
    parsed = parse_input("i.eml", raw)
    assert (parsed.sender, parsed.sender_name) == ("josé@exämple.com", "José")


def test_json_item_details() -> None:
    parsed = parse_input(
        "w.json",
        work_item(
            **{"from": "Jo <Jo@Example.com>"},
            to="alex@northwind.example, Sam <sam@example.com>",
            message_id="<w1@example.com>",
            body="line1\r\nline2 \ud800",
            extra_field_is_ignored=True,
        ),
    )
    assert (parsed.kind, parsed.sender, parsed.sender_name) == ("json", "jo@example.com", "Jo")
    assert parsed.to == ("alex@northwind.example", "sam@example.com")
    assert parsed.message_id == "<w1@example.com>"
    assert parsed.body == "line1\nline2 \ufffd"  # lone surrogates cannot reach the store
    assert parsed.headers == {} and parsed.references == () and not parsed.has_attachments
    assert parse_input("n.json", work_item(to=None, message_id=None)).to == ()


def test_hostile_markup_and_headers_stay_fast() -> None:
    # Without the guards these take from seconds (html.parser on unclosed tags) to about a
    # minute (the modern policy's address parser on a 60 KB From of comments).
    cases = [
        mail(b"Content-Type: text/html\r\n", b"<a " * 100_000),
        mail(b"Content-Type: text/html\r\n", b"<!--x>" * 50_000),
        b"From: " + b"(c)" * 20_000 + b"<jo@example.com>\r\n\r\nhi",
        mail(b"To: " + b'"' * 60_000 + b"\r\n"),
    ]
    for data in cases:
        started = time.perf_counter()
        with contextlib.suppress(UnusableInput):
            parse_input("slow.eml", data)
        assert time.perf_counter() - started < 1.0


# --------------------------------------------------------------------------- fuzz


def mutate(rng: random.Random, seed: bytes) -> bytes:
    data = bytearray(seed)
    for _ in range(rng.randint(1, 4)):
        choice = rng.random()
        position = rng.randrange(len(data) + 1)
        if choice < 0.25 and data:
            del data[position:]  # truncation
        elif choice < 0.5 and data:
            for _ in range(rng.randint(1, 8)):
                data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)  # bit flips
        elif choice < 0.7:
            data[position:position] = b"\x00" * rng.randint(1, 4)  # NULs
        elif choice < 0.85:
            data[position:position] = rng.choice(
                [b"\r\n", b"\n\n", b"--", b"=?utf-8?q?=FF?=", b'"', b"<", b"\xff\xfe", b": "]
            )
        elif data:
            end = min(len(data), position + rng.randint(1, 200))
            data[position:end] = rng.randbytes(end - position)  # random garbage
    return bytes(data)


def check_parsed(parsed: ParsedMessage, max_body_chars: int) -> None:
    assert parsed.sender.count("@") == 1 and parsed.sender == parsed.sender.lower()
    assert "\n" not in parsed.subject and "\r" not in parsed.subject
    assert len(parsed.subject) <= 998 and len(parsed.body) <= max_body_chars
    for text in (parsed.sender, parsed.sender_name, parsed.subject, parsed.body, *parsed.to):
        text.encode("utf-8")  # no lone surrogates may leak out


def test_fuzz_never_raises_anything_but_unusable_input() -> None:
    rng = random.Random(0)
    seeds = [(p.suffix, p.read_bytes()) for p in SAMPLE_FILES]
    seeds += [(p.suffix, p.read_bytes()) for p in sorted(HOSTILE.iterdir())]
    outcomes: dict[str, int] = {}
    started = time.perf_counter()
    for index in range(2_000):
        suffix, seed = rng.choice(seeds)
        suffix = rng.choice([suffix, suffix, ""]) if suffix == ".eml" else suffix
        data = mutate(rng, seed) if index % 10 else rng.randbytes(rng.randint(0, 2_000))
        one = time.perf_counter()
        try:
            check_parsed(parse_input(f"fuzz{suffix}", data, max_body_chars=2_000), 2_000)
            outcome = "ok"
        except UnusableInput as error:
            assert error.code in QUARANTINE_CODES
            assert error.reason and "\n" not in error.reason
            outcome = error.code
        assert time.perf_counter() - one < 0.5, f"case {index} was slow"
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
    assert time.perf_counter() - started < 10
    assert outcomes.get("ok", 0) > 100  # the mutations must not all be trivially rejected
