"""Tests for sensors.parsing: every quarantine code, real-but-awkward mail that is kept, the
sample and hostile inboxes, hidden HTML text, and property tests (hypothesis).

The parser's contract is that any bytes either become a ParsedMessage or raise UnusableInput with
one of QUARANTINE_CODES; nothing else may escape, and hostile input must not be slow. Quarantine
is for what is not mail at all: a wrong charset, a missing From, an attachment over the text
limit or extra JSON fields are mail, and are kept.
"""

from __future__ import annotations

import base64
import contextlib
import json
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from sensors.parsing import (
    CHARSET_FALLBACK,
    HIDDEN_TEXT,
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


# Codes only intake gives (the file itself, before any parsing); tests/sensors/test_bad_files.py.
FILE_CODES = ("unreadable", "not_a_file")


def test_interface_constants() -> None:
    expected = (
        "not_email",
        "broken_mime",
        "undecodable_charset",
        "oversize",
        "invalid_json_item",
        "unsupported_type",
        *FILE_CODES,
    )
    assert expected == QUARANTINE_CODES
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
    # Bytes no charset reads as text, labelled text/plain.
    (
        "binary-body.eml",
        mail(b"Content-Type: text/plain; charset=utf-8\r\n", bytes(range(0x80, 0x100)) * 4),
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
    ("number-body.json", work_item(body=42), "invalid_json_item"),
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
    ("deep.json", b"[" * 100_000 + b"]" * 100_000, "invalid_json_item"),
    ("empty.json", b"", "invalid_json_item"),
    ("binary.json", bytes(range(0x80, 0x100)) * 4, "invalid_json_item"),
    ("notes.txt", b"From: jo@example.com\r\n\r\nhi", "unsupported_type"),
    ("invoice.pdf", b"%PDF-1.4\n", "unsupported_type"),
    ("archive.mbox", mail(), "unsupported_type"),
    ("1710324000.report.pdf", mail(), "unsupported_type"),  # not a Maildir name
]


QUARANTINE_CASES_BY_NAME = {name: data for name, data, _ in QUARANTINE_CASES}


@pytest.mark.parametrize(
    ("name", "data", "code"), QUARANTINE_CASES, ids=[c[0] for c in QUARANTINE_CASES]
)
def test_quarantine(name: str, data: bytes, code: str) -> None:
    error = quarantine(name, data)
    assert error.code == code
    assert error.reason and "\n" not in error.reason and "\r" not in error.reason
    assert SECRET not in error.reason


def test_every_quarantine_code_is_exercised() -> None:
    assert {code for _, _, code in QUARANTINE_CASES} == set(QUARANTINE_CODES) - set(FILE_CODES)


def with_attachment(data: bytes, text: bytes = b"Invoice attached.") -> bytes:
    return mail(
        b'Content-Type: multipart/mixed; boundary="b"\r\n',
        b"--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" + text + b"\r\n"
        b'--b\r\nContent-Type: application/pdf; name="inv.pdf"\r\n'
        b'Content-Disposition: attachment; filename="inv.pdf"\r\n'
        b"Content-Transfer-Encoding: base64\r\n\r\n" + base64.encodebytes(data) + b"--b--\r\n",
    )


def test_size_limits_bound_the_text_not_the_attachments() -> None:
    # The whole file has a hard ceiling, checked before anything else.
    assert quarantine("x.pdf", b"x" * 11, max_bytes=5, max_file_bytes=10).code == "oversize"
    assert quarantine("x.json", b"{" * 11, max_bytes=10).code == "oversize"
    assert parse_input("x.eml", mail(), max_bytes=len(mail())).sender == "jo@example.com"
    # An attachment over the text limit is kept, whole, beside the text.
    pdf = b"%PDF-1.7 " + bytes(range(256)) * 200
    parsed = parse_input("big.eml", with_attachment(pdf), max_bytes=1_000)
    assert parsed.body == "Invoice attached." and parsed.has_attachments
    (attachment,) = parsed.attachments
    assert (attachment.name, attachment.content_type, attachment.data) == (
        "inv.pdf",
        "application/pdf",
        pdf,
    )
    # Text over the limit is still too big to be worked on.
    error = quarantine("long.eml", with_attachment(b"x", b"t" * 2_000), max_bytes=1_000)
    assert error.code == "oversize" and "text" in error.reason


def test_reasons_name_the_problem() -> None:
    assert "boundary" in quarantine("a.eml", mail(b"Content-Type: multipart/mixed\r\n")).reason
    klingon = mail(b'Content-Type: text/plain; charset="x-unknown-klingon"\r\n')
    assert "charset" in quarantine("a.eml", QUARANTINE_CASES_BY_NAME["binary-body.eml"]).reason
    assert parse_input("a.eml", klingon).extra == {}  # an ASCII body reads alike in any charset
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
        assert set(expectation.get("flags", [])) <= {HIDDEN_TEXT, CHARSET_FALLBACK}
        if expectation["parse"] == "quarantine":
            assert expectation["reason_code"] in QUARANTINE_CODES


@pytest.mark.parametrize("name", sorted(HOSTILE_EXPECTED))
def test_hostile_inbox(name: str) -> None:
    expected = HOSTILE_EXPECTED[name]
    data = hostile_bytes(name)
    if expected["parse"] == "ok":
        parsed = parse_input(name, data)
        assert parsed.sender and "\n" not in parsed.subject
        assert list(parsed.flags) == expected.get("flags", [])
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
    parsed = hostile("html-only.eml")
    assert parsed.flags == (HIDDEN_TEXT,)  # a comment and a script no reader sees
    body = parsed.body
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
    # A long body is kept whole (prompts cut it) and noted as long.
    parsed = parse_input("b.eml", mail(body=b"x\x00y\r\n" + b"z" * 500), max_body_chars=100)
    assert parsed.body == "xy\n" + "z" * 500 and parsed.extra == {"body_chars": 503}
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
            extra_field_is_kept={"deep": [1, 2]},
        ),
    )
    assert parsed.extra == {"fields": {"extra_field_is_kept": {"deep": [1, 2]}}}
    assert (parsed.kind, parsed.sender, parsed.sender_name) == ("json", "jo@example.com", "Jo")
    assert parsed.to == ("alex@northwind.example", "sam@example.com")
    assert parsed.message_id == "<w1@example.com>"
    assert parsed.body == "line1\nline2 \ufffd"  # lone surrogates cannot reach the store
    assert parsed.headers == {} and parsed.references == () and not parsed.has_attachments
    assert parse_input("n.json", work_item(to=None, message_id=None)).to == ()
    assert parse_input("n.json", work_item(subject=...)).subject == ""  # subject is optional


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


# --------------------------------------------------------------------------- mail that is kept

# (name, data, sender, flags): each of these was quarantined once; all are real mail.
KEPT_CASES = [
    ("no-from.eml", b"To: alex@northwind.example\r\nSubject: x\r\n\r\nhi", None, ()),
    ("bad-from.eml", b"From: Jo Bloggs\r\n\r\nhi", None, ()),
    ("null-from.eml", b"From: <>\r\n\r\nhi", None, ()),
    ("two-at-from.eml", b"From: <a@b@example.com>\r\n\r\nhi", None, ()),
    ("undecodable-from.eml", b"From: j\xffo@example.com\r\n\r\nhi", None, ()),
    # The modern policy's address parser raises IndexError on this value.
    ("raising-from.eml", b'From: \t=?<"\r\n\r\nhi', None, ()),
    (
        "klingon.eml",
        mail(b'Content-Type: text/plain; charset="x-unknown-klingon"\r\n', b"caf\xe9 ok"),
        "jo@example.com",
        (CHARSET_FALLBACK,),
    ),
    (
        "codec-not-charset.eml",
        mail(b"Content-Type: text/plain; charset=base64\r\n", b"caf\xe9 ok"),
        "jo@example.com",
        (CHARSET_FALLBACK,),
    ),
    (
        "python-only-codec.eml",
        mail(b"Content-Type: text/plain; charset=unicode_escape\r\n", b"caf\xe9 ok"),
        "jo@example.com",
        (CHARSET_FALLBACK,),
    ),
    (
        "bad-utf8.eml",
        mail(b"Content-Type: text/plain; charset=utf-8\r\n", b"caf\xe9 ok"),
        "jo@example.com",
        (CHARSET_FALLBACK,),
    ),
    ("no-charset-latin1.eml", mail(body=b"caf\xe9 ok"), "jo@example.com", (CHARSET_FALLBACK,)),
    (
        "ascii-8bit.eml",
        mail(b"Content-Type: text/plain; charset=us-ascii\r\n", b"caf\xe9 ok"),
        "jo@example.com",
        (CHARSET_FALLBACK,),
    ),
    (
        "bad-base64-payload.eml",
        mail(
            b"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n",
            base64.b64encode(b"caf\xe9 ok"),
        ),
        "jo@example.com",
        (CHARSET_FALLBACK,),
    ),
    ("missing-from.json", work_item(**{"from": ...}), None, ()),
    ("bad-from.json", work_item(**{"from": "not an address"}), None, ()),
    (
        "crlf-from.json",
        work_item(**{"from": "jo@example.com\r\nBcc: x@evil.example"}),
        None,
        (),
    ),
    ("surrogate-from.json", b'{"from": "\\ud800@example.com", "body": "b"}', None, ()),
    (
        "latin1.json",
        '{"from": "jo@example.com", "subject": "caf\u00e9", "body": "b"}'.encode("latin-1"),
        "jo@example.com",
        (CHARSET_FALLBACK,),
    ),
]


@pytest.mark.parametrize(
    ("name", "data", "sender", "flags"), KEPT_CASES, ids=[c[0] for c in KEPT_CASES]
)
def test_real_mail_is_kept(name: str, data: bytes, sender: str | None, flags: tuple) -> None:
    parsed = parse_input(name, data)
    assert (parsed.sender, parsed.flags) == (sender, flags)
    if CHARSET_FALLBACK in flags:
        assert "caf\u00e9" in f"{parsed.subject} {parsed.body}"  # read right, not mojibake
        assert parsed.extra["charset"]["read_as"] == "cp1252"


def test_json_aliases_map_to_the_contract_and_the_rest_is_kept() -> None:
    data = json.dumps(
        {
            "sender": "Kim <Kim@Client.example>",
            "subject": "Order",
            "message": "Where is order 17?",
            "order_id": 17,
            "text": "a second body-like field stays as data",
            "tags": ["web", "urgent"],
        }
    ).encode()
    parsed = parse_input("form.json", data)
    assert (parsed.sender, parsed.sender_name, parsed.body) == (
        "kim@client.example",
        "Kim",
        "Where is order 17?",
    )
    assert parsed.extra["fields"] == {
        "order_id": 17,
        "text": "a second body-like field stays as data",
        "tags": ["web", "urgent"],
    }
    both = parse_input("b.json", work_item(email="other@example.com", text="alias"))
    assert (both.sender, both.body) == ("jo@example.com", "Hello")  # the contract's name wins
    assert both.extra["fields"] == {"email": "other@example.com", "text": "alias"}


# --------------------------------------------------------------------------- hidden html text

HTML_UTF8 = b"Content-Type: text/html; charset=utf-8\r\n"
HIDDEN_CASES = {
    "display-none": '<div style="display: none">{x}</div>',
    "visibility": "<span style='visibility:hidden'>{x}</span>",
    "zero-font": '<p style="font-size:0px">{x}</p>',
    "zero-font-pt": '<p style="FONT-SIZE: 0pt !important">{x}</p>',
    "white-on-white": '<span style="color:#FFF">{x}</span>',
    "same-as-background": '<div style="background:#123456"><b style="color:#123456">{x}</b></div>',
    "font-tag-white": '<font color="white">{x}</font>',
    "rgb-white": '<span style="color: rgb(255, 255, 255)">{x}</span>',
    "hidden-attribute": "<div hidden>{x}</div>",
    "nested-under-hidden": '<div style="display:none"><p>a</p><p>{x}</p></div>',
    "comment": "<!-- {x} -->",
    "script": "<script>var s = '{x}';</script>",
    "style-comment": "<style>/* {x} */ p {{ margin: 0 }}</style>",
}


@pytest.mark.parametrize("markup", HIDDEN_CASES.values(), ids=HIDDEN_CASES.keys())
def test_hidden_html_text_is_removed_and_flagged(markup: str) -> None:
    html = f"<html><body><p>Visible hello.</p>{markup.format(x=SECRET)}<p>Bye.</p></body></html>"
    parsed = parse_input("h.eml", mail(HTML_UTF8, html.encode()))
    assert SECRET not in parsed.body
    assert parsed.body == "Visible hello.\n\nBye."
    assert parsed.flags == (HIDDEN_TEXT,)


VISIBLE_CASES = {
    "white-on-dark": '<td bgcolor="#000000"><span style="color:#fff">{x}</span></td>',
    "coloured": '<span style="color: red; font-size: 12px">{x}</span>',
    "after-hidden-sibling": '<p style="display:none"></p><p>{x}</p>',
    "css-without-comments": "<style>p {{ color: #333 }}</style><p>{x}</p>",
    "outlook-conditional": "<!--[if mso]><table><tr><td><![endif]--><p>{x}</p>",
}


@pytest.mark.parametrize("markup", VISIBLE_CASES.values(), ids=VISIBLE_CASES.keys())
def test_visible_html_text_is_kept_unflagged(markup: str) -> None:
    html = f"<html><body>{markup.format(x=SECRET)}</body></html>"
    parsed = parse_input("v.eml", mail(HTML_UTF8, html.encode()))
    assert SECRET in parsed.body and parsed.flags == ()


# --------------------------------------------------------------------------- properties


def check_parsed(parsed: ParsedMessage) -> None:
    if parsed.sender is not None:
        assert parsed.sender.count("@") == 1 and parsed.sender == parsed.sender.lower()
    assert "\n" not in parsed.subject and "\r" not in parsed.subject
    assert len(parsed.subject) <= 998
    assert set(parsed.flags) <= {HIDDEN_TEXT, CHARSET_FALLBACK}
    for text in (parsed.sender or "", parsed.sender_name, parsed.subject, parsed.body, *parsed.to):
        text.encode("utf-8")  # no lone surrogates may leak out
    json.dumps(parsed.extra)  # the store can keep it


def outcome(name: str, data: bytes) -> str:
    started = time.perf_counter()
    try:
        check_parsed(parse_input(name, data, max_body_chars=2_000))
        result = "ok"
    except UnusableInput as error:
        assert error.code in QUARANTINE_CODES and error.code not in FILE_CODES
        assert error.reason and "\n" not in error.reason and SECRET not in error.reason
        result = error.code
    assert time.perf_counter() - started < 1.0
    return result


SEEDS = [(p.suffix, p.read_bytes()) for p in SAMPLE_FILES]
SEEDS += [(p.suffix, p.read_bytes()) for p in sorted(HOSTILE.iterdir())]
INSERTS = [b"\r\n", b"\n\n", b"--", b"=?utf-8?q?=FF?=", b'"', b"<", b"\xff\xfe", b": ", b"\x00"]


@st.composite
def mutated(draw: st.DrawFn) -> tuple[str, bytes]:
    """A sample or hostile file with a few truncations, bit flips, inserts and garbage runs
    (what the hand-written random loop did, now shrinkable)."""
    suffix, seed = draw(st.sampled_from(SEEDS))
    if suffix == ".eml":
        suffix = draw(st.sampled_from([".eml", ""]))
    data = bytearray(seed)
    for _ in range(draw(st.integers(1, 4))):
        position = draw(st.integers(0, len(data)))
        match draw(st.sampled_from(["cut", "flip", "insert", "garbage"])):
            case "cut":
                del data[position:]
            case "flip" if data:
                data[min(position, len(data) - 1)] ^= 1 << draw(st.integers(0, 7))
            case "insert":
                data[position:position] = draw(st.sampled_from(INSERTS))
            case "garbage":
                data[position : position + 200] = draw(st.binary(max_size=200))
    return f"fuzz{suffix}", bytes(data)


PROPERTY_SETTINGS = settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


@PROPERTY_SETTINGS
@given(mutated())
@example(("fuzz.eml", b""))
@example(("fuzz", (HOSTILE / "valid-question.eml").read_bytes()[:40]))
@example(("fuzz.json", b'{"from": "a@b.example", "body": "\\ud800"}'))
def test_mutated_files_only_ever_yield_a_message_or_unusable_input(
    case: tuple[str, bytes],
) -> None:
    outcome(*case)


@PROPERTY_SETTINGS
@given(st.sampled_from([".eml", ".json", ""]), st.binary(max_size=2_000))
def test_random_bytes_only_ever_yield_a_message_or_unusable_input(suffix: str, data: bytes) -> None:
    outcome(f"random{suffix}", data)


CHARSETS = ["utf-8", "latin-1", "cp1252", "x-unknown", "base64", "us-ascii", "koi8-r", ""]
HIDING = ["display:none", "visibility:hidden", "font-size:0", "color:#ffffff"]


@st.composite
def real_mail(draw: st.DrawFn) -> tuple[bytes, str, list[bytes]]:
    """Mail as clients write it: any From, any (maybe wrong) charset, plain or HTML with a
    hidden span, and attachments. Returns the bytes, the hidden word and the attachments."""
    words = st.text(st.characters(codec="latin-1", categories=["L", "N"]), min_size=1, max_size=8)
    text = " ".join(draw(st.lists(words, min_size=1, max_size=12)))
    charset = draw(st.sampled_from(CHARSETS))
    sender = draw(st.sampled_from(["Jo <jo@example.com>", "", "Jo", "<>", "x@y@z"]))
    hidden = "HIDDEN" + draw(st.text("ABCDEFGH", min_size=4, max_size=4))
    html = draw(st.booleans())
    body = text.encode("latin-1")
    if html:
        style = draw(st.sampled_from(HIDING))
        body = f'<p>{text}</p><span style="{style}">{hidden}</span>'.encode("latin-1")
    label = f"; charset={charset}" if charset else ""
    parts = draw(st.lists(st.binary(min_size=1, max_size=300), max_size=3))
    head = f"From: {sender}\r\nSubject: s\r\nMIME-Version: 1.0\r\n".encode()
    kind = b"text/html" if html else b"text/plain"
    if not parts:
        return head + b"Content-Type: " + kind + label.encode() + b"\r\n\r\n" + body, hidden, []
    out = head + b'Content-Type: multipart/mixed; boundary="q"\r\n\r\n'
    out += b"--q\r\nContent-Type: " + kind + label.encode() + b"\r\n\r\n" + body + b"\r\n"
    for n, part in enumerate(parts):
        out += (
            f"--q\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment;"
            f' filename="f{n}.bin"\r\nContent-Transfer-Encoding: base64\r\n\r\n'
        ).encode() + base64.encodebytes(part)
    return out + b"--q--\r\n", hidden, parts


@PROPERTY_SETTINGS
@given(real_mail())
def test_real_mail_is_never_quarantined(case: tuple[bytes, str, list[bytes]]) -> None:
    data, hidden, parts = case
    parsed = parse_input("real.eml", data, max_bytes=10_000)
    check_parsed(parsed)
    assert hidden not in parsed.body
    assert [a.data for a in parsed.attachments] == parts
    if b"<span" in data:
        assert HIDDEN_TEXT in parsed.flags


def test_hostile_markup_and_headers_stay_fast_with_hidden_text_tracking() -> None:
    # Deep unclosed nesting must not make the open-element bookkeeping quadratic, and a
    # hiding element past the tracked depth still hides what follows it.
    deep = b"<div>" * 50_000 + b'<span style="display:none">' + SECRET.encode() + b"</span>"
    closing = b"<div><p>x" + b"</b>" * 100_000
    for html in (deep, closing):
        started = time.perf_counter()
        parsed = parse_input("deep.eml", mail(b"Content-Type: text/html\r\n", html))
        assert time.perf_counter() - started < 2.0
        assert SECRET not in parsed.body
