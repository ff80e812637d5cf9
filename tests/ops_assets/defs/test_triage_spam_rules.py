"""The triage rules, each with the spam it stops and the legitimate mail that looks like it and
must pass: a rule that calls client mail spam drops it silently (spam is a no-action route)."""

from typing import Any

import pytest

from ops_assets.defs.triage.rules import no_action_rule
from ops_assets.defs.triage.spam_rules import brand_impersonated, owner_domain_imitated

OWNER = ["alex@northwind.example", "hello@northwind.example"]


def rule(sender: str, subject: str, body: str, **headers: str) -> tuple[str, str] | None:
    item: dict[str, Any] = {"sender": sender, "subject": subject, "body": body}
    item["headers"] = {k.replace("_", "-"): v for k, v in headers.items()}
    return no_action_rule(item, OWNER)


@pytest.mark.parametrize(
    ("sender", "brand"),
    [
        ("security@paypal-alerts.example", "paypal"),
        ("alerts@paypa1.example", "paypal"),  # a digit one for the letter l
        ("noreply@microsoft-365-billing.example", "microsoft"),
        ("paket@dhl-zustellung.example", "dhl"),
    ],
)
def test_a_domain_carrying_a_brand_it_is_not_is_impersonation(sender: str, brand: str) -> None:
    assert brand_impersonated(sender) == brand
    assert rule(sender, "Notice", "Please read the attached notice.") == (
        "spam_rule",
        f"the sender's domain imitates {brand} without being its own",
    )


@pytest.mark.parametrize(
    "sender",
    [
        "service@paypal.com",  # the brand's own domains, in any country and subdomain
        "no-reply@mail.google.co.uk",
        "billing@paypal.de",
        "orders@apple-tree-bakery.example",  # an ordinary word that is also a brand
        "ana@dhlovers.example",  # the brand inside a longer word
    ],
)
def test_the_brands_own_domains_and_ordinary_words_are_not_impersonation(sender: str) -> None:
    assert brand_impersonated(sender) is None


@pytest.mark.parametrize(
    "sender",
    ["ceo@northwind-ceo.example", "it@northwlnd.example", "hr@n0rthwind.example"],
)
def test_a_domain_imitating_the_owners_own_is_spam(sender: str) -> None:
    assert owner_domain_imitated(sender, OWNER) == "northwind.example"
    assert rule(sender, "Quick favour", "Are you at your desk?")[0] == "spam_rule"  # type: ignore[index]


@pytest.mark.parametrize(
    "sender",
    ["maria@northwindfoods.example", "it@mail.northwind.example", "ops@southwind.example"],
)
def test_the_owners_own_subdomains_and_other_companies_are_not_imitation(sender: str) -> None:
    assert owner_domain_imitated(sender, OWNER) is None


@pytest.mark.parametrize(
    ("subject", "body"),
    [
        (
            "Account limited",
            "Verify your identity within 24 hours or your account will be suspended.",
        ),
        ("Mailbox full", "Click here to confirm your password and keep your messages."),
        (
            "Konto gesperrt",
            "Bitte bestätigen Sie Ihre Daten über den folgenden Link: https://x.example",
        ),
        ("Cuenta bloqueada", "Verifique sus datos inmediatamente en el siguiente enlace."),
    ],
)
def test_credential_phishing_with_a_threat_or_a_link_is_spam(subject: str, body: str) -> None:
    assert rule("support@secure-mail.example", subject, body)[0] == "spam_rule"  # type: ignore[index]


@pytest.mark.parametrize(
    ("subject", "body"),
    [
        ("Login broken", "I cannot log in since this morning, my password is not accepted."),
        ("Password reset", "Could you reset my password? The link on the site is broken."),
        (
            "Bank details",
            "Could you confirm your bank details? We want to pay the invoice today.",
        ),
        ("Details", "Please confirm your identity documents arrived, I posted them Monday."),
    ],
)
def test_a_client_writing_about_logins_or_bank_details_is_not_phishing(
    subject: str, body: str
) -> None:
    assert rule("sam@client.example", subject, body) is None


@pytest.mark.parametrize(
    ("subject", "body"),
    [
        ("Congratulations", "Your email address has won 500,000 euros in our lottery."),
        ("Sie haben gewonnen!", "Sie haben bei unserer Verlosung 10.000 € gewonnen."),
        ("Urgent", "Dear friend, I have an unclaimed sum of 9 million and need a partner."),
        ("Favour", "Buy four gift cards of 100 each and send me the codes, I am in a meeting."),
        ("Wallet", "Send your seed phrase to our team so we can secure your funds."),
        ("Meds", "Buy pills without prescription, shipped worldwide."),
    ],
)
def test_scams_are_spam(subject: str, body: str) -> None:
    assert rule("x@random-sender.example", subject, body)[0] == "spam_rule"  # type: ignore[index]


@pytest.mark.parametrize(
    ("subject", "body"),
    [
        ("Great news", "Our new site has won a design award! Thank you for the work."),
        ("Gift cards", "Can the shop sell gift cards? Customers keep asking for them."),
        ("Lottery page", "We run a charity raffle; can you add a page with the prizes?"),
    ],
)
def test_client_mail_that_mentions_prizes_or_gift_cards_is_not_a_scam(
    subject: str, body: str
) -> None:
    assert rule("kim@client.example", subject, body) is None


@pytest.mark.parametrize(
    ("subject", "body"),
    [
        ("SEO", "We can get you to page one of Google in 30 days. Guaranteed ranking."),
        ("Collaboration", "We would like to publish a guest post with a dofollow link."),
        ("Reviews", "We get your business 100 five-star reviews this month."),
        ("Leads", "Buy our verified email list of 20,000 CEOs."),
    ],
)
def test_bought_reach_is_spam(subject: str, body: str) -> None:
    assert rule("growth@agency.example", subject, body)[0] == "spam_rule"  # type: ignore[index]


@pytest.mark.parametrize(
    ("subject", "body"),
    [
        ("Blog", "Could you publish the guest post I sent on our blog next week?"),
        ("Reviews", "We got great five-star reviews, can you show them on the home page?"),
        ("SEO", "Our ranking on Google dropped after the relaunch. Can you take a look?"),
    ],
)
def test_clients_asking_about_their_own_seo_or_reviews_are_not_spam(
    subject: str, body: str
) -> None:
    assert rule("lee@client.example", subject, body) is None


@pytest.mark.parametrize(
    "subject",
    [
        "Réponse automatique : absente",
        "Respuesta automática: fuera de la oficina",
        "Risposta automatica: fuori ufficio",
        "Automatisch antwoord: afwezig",
        "Abwesenheitsnotiz: Ihre Nachricht",
    ],
)
def test_auto_replies_in_the_clients_languages_need_no_answer(subject: str) -> None:
    assert rule("pat@client.example", subject, "Je suis absente.") == (
        "auto_reply",
        "automatic reply",
    )


def test_a_subject_that_only_mentions_an_absence_is_no_auto_reply() -> None:
    assert rule("pat@client.example", "Our office absence calendar", "Can you add it?") is None


def test_phishing_from_a_no_reply_address_is_spam_and_a_plain_notice_from_one_needs_no_answer() -> (
    None
):
    phishing = rule(
        "no-reply@bank-secure.example",
        "Account locked",
        "Confirm your login details here: https://bank-secure.example/login",
    )
    assert phishing is not None and phishing[0] == "spam_rule"
    notice = rule("no-reply@hosting.example", "Your monthly report", "Uptime was 99.98%.")
    assert notice == ("bounce", "sent from a no-reply address")


def test_a_newsletter_with_list_headers_is_not_spam_for_its_offers() -> None:
    found = rule(
        "news@webweekly.example",
        "This week in web design",
        "Early-bird tickets for the conference, and five articles worth reading.",
        List_Unsubscribe="<mailto:unsubscribe@webweekly.example>",
    )
    assert found is not None and found[0] == "mailing_list"
