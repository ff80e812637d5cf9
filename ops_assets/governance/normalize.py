"""The one reading of a message's text that every rule uses: flags, triage rules and facts.

Rules are regexes over Latin text, and a sender who knows that writes "bank" with a Cyrillic
'a' (U+0430), "IBAN" with a zero-width space inside, or 1,500 in full-width digits. `for_rules`
undoes those tricks; its result is for matching only and never shown or sent.
"""

import re
import unicodedata

# Letters that look like Latin ones in common fonts (after NFKC, which already folds full-width,
# mathematical and other compatibility forms). Cyrillic, Greek and Armenian cover nearly every
# homoglyph seen in phishing mail; a small table is enough because a miss only costs a flag.
CONFUSABLES = str.maketrans(
    {
        # Cyrillic, Greek, Armenian and small-capital Latin letters, then dashes and quotes;
        # written as escapes so that this table cannot itself fool a reader.
        "\u0430": "a", "\u0432": "b", "\u0435": "e", "\u0451": "e", "\u04bb": "h",
        "\u0456": "i", "\u0457": "i", "\u0458": "j", "\u043a": "k", "\u04cf": "l",
        "\u043c": "m", "\u043d": "h", "\u043e": "o", "\u0440": "p", "\u0441": "c",
        "\u051b": "q", "\u0455": "s", "\u0442": "t", "\u0443": "y", "\u051d": "w",
        "\u0445": "x", "\u0501": "d", "\u044c": "b", "\u0261": "g", "\u0410": "A",
        "\u0412": "B", "\u0415": "E", "\u0401": "E", "\u041d": "H", "\u0406": "I",
        "\u0407": "I", "\u0408": "J", "\u041a": "K", "\u041c": "M", "\u041e": "O",
        "\u0420": "P", "\u0421": "C", "\u0405": "S", "\u0422": "T", "\u0423": "Y",
        "\u0425": "X", "\u051a": "Q", "\u051c": "W", "\u04ba": "H", "\u04c0": "I",
        "\u03b1": "a", "\u03b2": "b", "\u03b5": "e", "\u03b7": "n", "\u03b9": "i",
        "\u03ba": "k", "\u03bd": "v", "\u03bf": "o", "\u03c1": "p", "\u03c4": "t",
        "\u03c5": "u", "\u03c7": "x", "\u03c9": "w", "\u03f2": "c", "\u03f3": "j",
        "\u0391": "A", "\u0392": "B", "\u0395": "E", "\u0396": "Z", "\u0397": "H",
        "\u0399": "I", "\u039a": "K", "\u039c": "M", "\u039d": "N", "\u039f": "O",
        "\u03a1": "P", "\u03a4": "T", "\u03a5": "Y", "\u03a7": "X", "\u03f9": "C",
        "\u0585": "o", "\u057d": "u", "\u0581": "g", "\u0566": "q", "\u0131": "i",
        "\u0237": "j", "\u0251": "a", "\u0269": "i", "\u028f": "y", "\u1d00": "a",
        "\u1d04": "c", "\u1d0f": "o", "\u1d1c": "u", "\u1d20": "v", "\u1d21": "w",
        "\u1d22": "z", "\u2010": "-", "\u2011": "-", "\u2012": "-", "\u2013": "-",
        "\u2014": "-", "\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'",
        "\u2032": "'", "\u201c": '"', "\u201d": '"', "\u201e": '"',
    }
)  # fmt: skip
# Format characters (zero-width space/joiners, word joiner, BOM, soft hyphen, bidi controls)
# are category Cf; variation selectors and combining marks are Mn/Me. None of them is visible
# as a letter, so a rule reads the text without them.
_INVISIBLE = frozenset(("Cf", "Mn", "Me"))
_SPACES = re.compile(r"[^\S\n]+")


def _digit(char: str) -> str:
    """Any decimal digit (Arabic-Indic, Devanagari, ...) as its ASCII digit."""
    value = unicodedata.decimal(char, None)
    return str(value) if value is not None else char


def for_rules(text: str | None) -> str:
    """The text as rules read it: NFKC, invisible characters and accents gone, homoglyphs and
    digits folded to ASCII, runs of spaces (no-break, thin, ideographic) made one space."""
    if not text:
        return ""
    decomposed = unicodedata.normalize("NFKD", unicodedata.normalize("NFKC", text))
    visible = "".join(
        _digit(c) if c.isdecimal() else c
        for c in decomposed
        if unicodedata.category(c) not in _INVISIBLE
    )
    folded = unicodedata.normalize("NFC", visible).translate(CONFUSABLES)
    return _SPACES.sub(" ", folded.replace("\r\n", "\n").replace("\r", "\n"))


def has_invisible(text: str | None) -> bool:
    """Zero-width or bidi format characters inside the text (a BOM at the start is common)."""
    return any(unicodedata.category(c) == "Cf" for c in (text or "").lstrip("\ufeff"))


def mixed_script_words(text: str | None) -> int:
    """Words that mix Latin letters with Cyrillic or Greek ones: real words almost never do."""
    count = 0
    for word in re.findall(r"\w{2,}", unicodedata.normalize("NFKC", text or "")):
        scripts = {_script(c) for c in word if c.isalpha()}
        if "latin" in scripts and scripts & {"cyrillic", "greek", "armenian"}:
            count += 1
    return count


def _script(char: str) -> str:
    name = unicodedata.name(char, "")
    for script in ("LATIN", "CYRILLIC", "GREEK", "ARMENIAN"):
        if name.startswith(script):
            return script.lower()
    return "other"
