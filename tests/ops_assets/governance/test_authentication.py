"""The receiving server's Authentication-Results decide whether a sender is who From says."""

import pytest

from ops_assets.governance.authentication import header_values, parse, verdict

SERVER = "mx.northwind.example"


def _item(*headers: str, sender: str = "dana@lumen.example") -> dict:
    return {"sender": sender, "headers": {"authentication-results": list(headers)}}


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (f"{SERVER}; spf=pass smtp.mailfrom=lumen.example; dkim=pass header.d=lumen.example;"
         " dmarc=pass header.from=lumen.example", "pass"),
        (f"{SERVER}; dkim=pass (good signature) header.d=mail.lumen.example", "pass"),
        (f"{SERVER}; spf=pass smtp.mailfrom=bounce@lumen.example", "pass"),
        (f"{SERVER}; dmarc=fail (p=reject) header.from=lumen.example; dkim=pass header.d=x.example",
         "fail"),
        (f"{SERVER}; spf=softfail smtp.mailfrom=lumen.example; dkim=none; dmarc=none", "fail"),
        (f"{SERVER}; dkim=pass header.d=attacker.example", "fail"),  # signed, but not by them
        (f"{SERVER}; spf=pass smtp.mailfrom=attacker.example", "fail"),
        (f"{SERVER}; none", "fail"),
    ],
)  # fmt: skip
def test_a_verdict_from_the_servers_results(header, expected) -> None:
    assert verdict(_item(header)) == expected


def test_no_header_is_unknown_and_only_the_topmost_or_the_named_server_counts() -> None:
    assert verdict({"sender": "dana@lumen.example", "headers": {}}) == "unknown"
    forged = "mx.northwind.example; dmarc=pass header.from=lumen.example"
    real = f"{SERVER}; dmarc=fail header.from=lumen.example"
    assert verdict(_item(real, forged)) == "fail"  # the one below was added by the sender
    other = "relay.attacker.example; dmarc=pass header.from=lumen.example"
    assert verdict(_item(other, real), [SERVER]) == "fail"
    assert verdict(_item(other), [SERVER]) == "unknown"


def test_the_header_is_read_from_the_stored_original(tmp_path) -> None:
    original = tmp_path / "item.eml"
    original.write_bytes(
        b"Authentication-Results: mx.northwind.example;\r\n spf=fail smtp.mailfrom=lumen.example;"
        b"\r\n dmarc=fail header.from=lumen.example\r\nFrom: dana@lumen.example\r\n"
        b"Subject: hi\r\n\r\nAuthentication-Results: body text is not a header\r\n"
    )
    item = {"sender": "dana@lumen.example", "kind": "eml", "original_path": str(original)}
    (value,) = header_values(item)
    assert parse(value).methods["dmarc"][0][0] == "fail"
    assert verdict(item) == "fail"
    assert verdict({**item, "original_path": str(tmp_path / "gone.eml")}) == "unknown"


def test_mail_from_the_owners_address_that_fails_authentication_says_so() -> None:
    from ops_assets.defs.triage.rules import no_action_rule

    owner = ["hello@northwind.example"]
    spoof = _item(f"{SERVER}; spf=softfail; dmarc=none", sender="hello@northwind.example")
    assert no_action_rule(spoof, owner)[0] == "spoofed_own_address"
    real = _item(f"{SERVER}; auth=pass smtp.auth=alex", sender="hello@northwind.example")
    assert no_action_rule(real, owner)[0] == "own_address"
