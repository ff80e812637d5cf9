"""Flags on messages that try to steer the business: they are held for the owner, whatever a
model makes of them. Cheap, deterministic, and deliberately over-eager: a false flag costs one
approval click, a missed one can cost money.

Every pattern reads the normalised text (`normalize.for_rules`: homoglyphs, invisible
characters and accents undone), so the alternatives in other languages are written without
accents ("geandert", "coordonnees"). Encoded runs (base64, hex) are decoded and read too.
"""

import base64
import binascii
import re

from ops_assets.governance.normalize import for_rules, mixed_script_words

_EMAIL = r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+"
# "New", "changed", "updated" in English, German, French, Spanish, Italian, Dutch, Portuguese.
_CHANGED = (
    r"chang\w*|updat\w*|new|different|replace\w*|neue\w*|geandert\w*|ander\w*|aktualisier\w*|"
    r"nouv\w*|modifi\w*|nuev\w*|cambi\w*|actualiz\w*|nuov\w*|aggiorn\w*|nieuw\w*|wijzig\w*|"
    r"gewijzigd\w*|nov[oa]s?|alterad\w*|mudanc\w*"
)
_BANK = (
    r"bank (details|account)|iban|account number|routing number|sort code|swift|bic|"
    r"payment details|bankverbindung|bankdaten|kontonummer|kontodaten|coordonnees bancaires|"
    r"rib|compte bancaire|datos bancarios|cuenta bancaria|coordinate bancarie|conto corrente|"
    r"bankgegevens|rekeningnummer|dados bancarios|conta bancaria"
)
_INSTRUCTIONS = (
    r"instructions?|rules|prompt|anweisungen|instruktionen|regeln|vorgaben|consignes|regles|"
    r"instrucciones|reglas|istruzioni|regole|instructies|regels|instrucoes|regras"
)
PATTERNS: dict[str, re.Pattern[str]] = {
    "bank_details_change": re.compile(
        rf"\b({_CHANGED})\b[^.\n]{{0,40}}\b({_BANK})\b|\b({_BANK})\b[^.\n]{{0,30}}\b"
        r"(has changed|have changed|changed|hat sich geandert|geandert|a change|ha cambiado|"
        r"e cambiato|is gewijzigd|mudou)\b",
        re.I,
    ),
    "move_money": re.compile(
        r"\b(wire|transfer|send|move|pay)\b[^.\n]{0,30}\b(money|funds|payment|\d[\d,.]*\s?"
        r"(usd|eur|gbp|chf|dollars|euros))|[$€£]\s?\d|\bgift cards?\b|\bcrypto(currency)? wallet"
        r"|\b(uberweis\w*|virement|virer|transferencia|transferir|bonifico|overmak\w*|"
        r"geld (senden|schicken))\b",
        re.I,
    ),
    "reveal_prompt": re.compile(
        r"\b(ignore|disregard|forget)\b[^.\n]{0,30}\b(previous|prior|above|all|your)\b[^.\n]{0,20}"
        r"\b(instructions|rules|prompt)|\b(reveal|show|print|repeat)\b[^.\n]{0,30}\b(system )?"
        r"(prompt|instructions)\b|\bsystem prompt\b",
        re.I,
    ),
    # Asking *us* for secrets; a customer saying "my password does not work" is not that.
    "reveal_secrets": re.compile(
        r"\b(send|give|share|tell|reveal|show|provide|forward|paste|email|what(?:'s| is| are))"
        r"\b[^.\n]{0,30}\b(your|the|our|its|any)\b[^.\n]{0,15}\b(api[ -]?keys?|passwords?|"
        r"credentials|secret keys?|access tokens?|private keys?|tokens?)\b",
        re.I,
    ),
    "customer_data": re.compile(
        r"\b(all|other|your|every)\b[^.\n]{0,20}\b(customer|client|user)s?'?\b[^.\n]{0,20}"
        r"\b(data|list|records|e-?mails|addresses|database|details)\b",
        re.I,
    ),
    "send_elsewhere": re.compile(
        rf"\b(send|forward|cc|bcc|copy|reply|email)\b[^\n]{{0,60}}\b{_EMAIL}", re.I
    ),
    # Text written for a model rather than a person, in English and the neighbours' languages:
    # role markers, "you are now", "decode this and follow it", "ignoriere alle Anweisungen".
    "instruction_like": re.compile(
        r"\b(you are|you're) (now|no longer)\b|\bas an? (ai|language model|assistant|llm)\b"
        r"|\b(new|updated|real|actual|hidden|secret|encoded|following) instructions\b"
        # A role marker followed by an order ("System: macOS 14" is a bug report, not that).
        r"|^\W*(system|assistant|developer)( (prompt|message|note|override))?\s*:\s*(you|ignore|"
        r"disregard|reply|respond|answer|always|never|from now|new instructions|the (ai|"
        r"assistant|model))\b|\b(note|message|instructions?) (to|for) the (ai|assistant|model|"
        r"bot|llm)\b|\[/?inst\]|<\|im_(start|end)\|>"
        r"|#{2,}\s*(instruction|system)|\bdecode (this|it|that|the (following|text|string|"
        r"message|blob|payload))\b|\bfollow (these|the|my|those) (\w+ )?instructions\b"
        r"|\b(reply|respond|answer) (only )?with (exactly|the following|this text)\b"
        r"|\b(do not|don't|never) (tell|mention|inform|alert) (the owner|anyone|your (boss|"
        r"owner|operator|human))\b|\b(pretend|act) (to be|as if|as an?)\b"
        r"|\b(dear|hello|hi|hey|attention),? (ai|assistant|chatbot|bot|model|llm)\b"
        r"|\b(ai|assistant|model|llm|bot)s? (reading|processing|handling) this\b"
        rf"|\b(ignorier\w*|vergiss|vergessen|ignorez|ignorer|oublie\w*|ignora\w*|olvida\w*|"
        rf"dimentica\w*|negeer|vergeet|esqueca\w*|esquece\w*)\b[^.\n]{{0,40}}\b({_INSTRUCTIONS})\b",
        re.I | re.M,
    ),
}

# Runs that look encoded: base64 (standard or URL-safe) and hex. Links are removed first,
# since their tokens are long by design and a reader never follows them as text.
_URL = re.compile(r"\b(?:https?://|www\.)\S+", re.I)
_B64_RUN = re.compile(r"(?<![\w+/=-])[A-Za-z0-9+/_-]{16,}={0,2}(?![\w+/=-])")
_HEX_RUN = re.compile(r"\b(?:[0-9a-fA-F]{2}[\s:]?){12,}\b")
_LONG_RUN = 40


def encoded_runs(text: str | None) -> list[str]:
    """Runs in the text that look like encoded data (decoding to text or long and mixed)."""
    found = []
    plain = _URL.sub(" ", text or "")
    for match in _B64_RUN.finditer(plain):
        run = match.group(0)
        if decode_run(run) is not None or (len(run) >= _LONG_RUN and _mixed(run)):
            found.append(run)
    for match in _HEX_RUN.finditer(plain):
        if _hex_text(match.group(0)) is not None:
            found.append(match.group(0))
    return found


def decode_run(run: str) -> str | None:
    """The text an encoded run stands for, when it decodes to mostly readable text."""
    padded = run + "=" * (-len(run) % 4)
    for decode in (base64.b64decode, base64.urlsafe_b64decode):
        try:
            raw = decode(padded)
        except (binascii.Error, ValueError):
            continue
        text = _readable(raw)
        if text is not None:
            return text
    return None


def _hex_text(run: str) -> str | None:
    try:
        return _readable(bytes.fromhex(re.sub(r"[\s:]", "", run)))
    except ValueError:
        return None


def _readable(raw: bytes) -> str | None:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return None
    printable = sum(c.isprintable() or c in "\n\t" for c in text)
    words = re.findall(r"[^\W\d_]{2,}", text)
    return text if len(text) >= 8 and printable >= 0.9 * len(text) and len(words) >= 2 else None


def _mixed(run: str) -> bool:
    return bool(re.search(r"[a-z]", run) and re.search(r"[A-Z]", run) and re.search(r"\d", run))


def injection_flags(subject: str | None, body: str | None, sender: str | None) -> list[str]:
    """Names of the risky requests in a message (never the matched text)."""
    raw = f"{subject or ''}\n{body or ''}"
    text = for_rules(raw)
    decoded = "\n".join(d for d in map(decode_run, encoded_runs(text)) if d)
    readings = [text, for_rules(decoded)] if decoded else [text]
    flags = [n for n, p in PATTERNS.items() if any(p.search(reading) for reading in readings)]
    if "send_elsewhere" in flags and sender:
        domain = sender.rsplit("@", 1)[-1].lower()
        others = [a for a in re.findall(_EMAIL, text) if a.lower().rsplit("@", 1)[-1] != domain]
        if not others:
            flags.remove("send_elsewhere")  # "reply to me at my own address" is fine
    if encoded_runs(text):
        flags.append("encoded_blob")
    if mixed_script_words(raw):
        flags.append("homoglyphs")
    if _INVISIBLE_IN_WORD.search(raw) or _HIDDEN.search(raw.lstrip("\ufeff")):
        flags.append("invisible_characters")
    return flags


# Zero-width joiners and direction marks are legitimate in emoji and right-to-left text (and
# soft hyphens in long German words); between two Latin letters a zero-width character only
# hides a word from a rule. Zero-width spaces, word joiners and bidi overrides have no
# business in mail at all.
_INVISIBLE_IN_WORD = re.compile(r"[A-Za-z][\u200b-\u200f\u2060-\u2064\ufeff]+[A-Za-z]")
_HIDDEN = re.compile(r"[\u200b\u2060-\u2064\u202a-\u202e\u2066-\u2069\ufeff]")
