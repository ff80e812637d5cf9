"""The new part of a mail: what the sender wrote this time, without the quoted thread below
it and without their signature (mail-parser-reply, offline, in the languages it knows).

Prompts and memory episodes read this; the store keeps the full text (the owner's desk, an
export and an erase all see every word). Where nothing would be left — a mail that is all
quote, or one the parser cannot split — the text stays as it was."""

from mailparser_reply.constants import MAIL_LANGUAGES
from mailparser_reply.parser import EmailMessage

LANGUAGES = sorted(MAIL_LANGUAGES)


def reply_text_only(text: str) -> str:
    """`text` without quoted replies, their "On ... wrote:" headers and the signature."""
    if not text or not text.strip():
        return text
    try:
        # keep_hyphen_lists: a "- item" list is content, not the start of a signature.
        message = EmailMessage(text=text, languages=LANGUAGES, keep_hyphen_lists=True)
        replies = message.read().replies
    except Exception:  # a parser bug must never cost the mail its text
        return text
    latest = (replies[0].body or "").strip() if replies else ""
    if not latest or latest.split() == text.split():
        return text  # nothing to strip: the text exactly as it came (a prompt's hash with it)
    return latest
