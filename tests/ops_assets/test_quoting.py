"""Quoted replies and signatures stay out of prompts and memory episodes; the store keeps the
whole mail."""

from support import batch_assets, json_mail

from ops_assets.agents.quoting import reply_text_only
from ops_assets.defs.memory.episodes import episodes
from resources.llm.scripted import script_triage

QUOTED = (
    "Thanks, the new login link works now.\n\n"
    "Best regards,\nSam Lee\nAcme Ltd | +44 20 7946 0000\n\n"
    "On Mon, 1 Dec 2026 at 10:00, Alex Rivera <hello@northwind.example> wrote:\n"
    "> Could you try the reset link QUOTEDMARKER again?\n"
    "> Alex\n"
)


def test_the_reply_keeps_only_what_was_written_this_time() -> None:
    assert reply_text_only(QUOTED) == "Thanks, the new login link works now."
    german = (
        "Hallo,\nbitte um Rückruf.\n\nAm 01.12.2026 um 10:00 schrieb Alex <a@b.example>:\n> Hallo\n"
    )
    assert "schrieb" not in reply_text_only(german) and "Rückruf" in reply_text_only(german)
    # A list is content, not a signature; plain text comes back exactly as it was.
    listed = "New prices:\n- Assessment: 75\n- Massage: 55\n"
    assert reply_text_only(listed) == listed
    plain = "Hello,\r\n  the page is down.\r\n"
    assert reply_text_only(plain) == plain
    # All quote, nothing new: nothing is thrown away.
    assert reply_text_only("> only what they quoted\n> nothing else\n").startswith("> only")
    assert reply_text_only("") == ""


def test_a_quoted_reply_is_stripped_from_the_prompt_and_memory_but_kept_in_the_store(
    bench, tmp_path
) -> None:
    prompts: list[str] = []

    def triage(text: str) -> dict:
        prompts.append(text)
        return script_triage(text)

    bench.script({"triage": triage})
    mail = json_mail(tmp_path / "mail", "reply", "sam@acme.example", "Re: Login", QUOTED)
    key = bench.intake([mail])
    assert bench.materialize(batch_assets()[:1], key).success
    (prompt,) = prompts
    assert "the new login link works now" in prompt
    assert "QUOTEDMARKER" not in prompt and "wrote:" not in prompt and "7946" not in prompt
    (item,) = bench.store.items()
    assert item["body"] == QUOTED.strip()  # the store has every word
    assert "QUOTEDMARKER" in item["body"] and "7946" in item["body"]
    rows = {r["kind"]: r for r in episodes(bench.store, item, "run-1")}
    assert "the new login link works now" in rows["item"]["text"]
    assert "QUOTEDMARKER" not in rows["item"]["text"] and "7946" not in rows["item"]["text"]
