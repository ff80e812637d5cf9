"""The company behind an address (the registrable domain, from the bundled suffix list) and
the free-mail providers (from the data package)."""

import socket

import pytest

from ops_assets.governance.addresses import FREEMAIL, company_of, is_freemail, registrable_domain


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("the suffix list must come from the package, not the network")

    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket.socket, "connect", refuse)


def test_a_subdomain_belongs_to_its_registrable_domain(no_network) -> None:
    assert company_of("sam@mail.acme.co.uk") == "acme.co.uk"
    assert company_of("Sam@EU.Support.Example.COM") == "example.com"
    assert company_of("ana@shop.example.com.br") == "example.com.br"
    assert registrable_domain("acme.co.uk") == "acme.co.uk"
    assert company_of("not an address") == ""


def test_free_mail_from_the_package_is_no_company(no_network) -> None:
    # Providers the old hand-kept list did not have, known from the package.
    for domain in ("posteo.de", "seznam.cz", "wp.pl", "outlook.de"):
        assert domain in FREEMAIL
        assert company_of(f"someone@{domain}") == ""
    assert len(FREEMAIL) > 1000
    assert company_of("x@gmail.com") == "" and is_freemail("mail.yahoo.co.uk")
    assert company_of("x@hey.com") == ""  # one the package lacks, kept by hand
    assert company_of("x@acme.example") == "acme.example"
