"""HTML to the text a reader sees: what is hidden (display:none, visibility:hidden, zero size,
text coloured like its background, comments, scripts) never reaches a model, and saying that
something was hidden is the caller's flag.

``html.parser`` is quadratic on unclosed markup, so comments, declarations and unclosed '<'
are removed by linear scans first (1 MB of hostile markup parses in well under a second).
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

_SKIPPED_TAGS = frozenset({"script", "style", "head", "title", "noscript", "template"})
_VOID_TAGS = frozenset(
    {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "wbr"}
)
_LAYOUT_TAGS = frozenset(
    {"p", "div", "br", "hr", "pre", "li", "ul", "ol", "table", "tr", "td", "th"}
)
_SECTION_TAGS = frozenset({"blockquote", "section", "article", "header", "footer"})
_BLOCK_TAGS = _LAYOUT_TAGS | _SECTION_TAGS | {"h1", "h2", "h3", "h4", "h5", "h6"}
_UNCLOSED_LT = re.compile(r"<(?![^<>]*>)")
_DECLARATION = re.compile(r"<[!?][^<>]*>")
_SPACES = re.compile(r"[ \t\f\v\xa0]+")
_BLANK_LINES = re.compile(r"\n{3,}")
_WORDS = re.compile(r"\w{2,}")
# Outlook's conditional comments wrap visible markup, not hidden prose.
_CONDITIONAL = re.compile(r"\[if [^\]]*\]>|<!\[endif\]|\[endif\]|<[^<>]*>", re.I)
_CSS_COMMENT = re.compile(r"/\*(.*?)\*/", re.S)

_ZERO = re.compile(r"^0*\.?0*(px|pt|em|rem|%|ex|ch|vw|vh)?$")
_NAMED_COLOURS = {"white": "#ffffff", "black": "#000000", "transparent": "transparent"}
_RGB = re.compile(r"^rgba?\((\d+),(\d+),(\d+)(?:,([\d.]+))?\)$")
PAGE_BACKGROUND = "#ffffff"  # what a mail client shows behind text nobody coloured
# Open elements tracked; beyond this, closing a tag would cost a scan of a hostile stack.
MAX_DEPTH = 512
_SELF_CLOSING_SIBLINGS = frozenset({"p", "li", "td", "tr", "option"})


def _colour(value: str | None) -> str | None:
    if not value:
        return None
    value = value.lower().replace(" ", "").removesuffix("!important")
    value = _NAMED_COLOURS.get(value, value)
    if re.fullmatch(r"#[0-9a-f]{3}", value):
        return "#" + "".join(c * 2 for c in value[1:])
    if match := _RGB.match(value):
        if match.group(4) is not None and float(match.group(4)) == 0:
            return "transparent"
        return "#" + "".join(f"{min(int(g), 255):02x}" for g in match.groups()[:3])
    return value


def _style(attrs: dict[str, str]) -> dict[str, str]:
    declarations: dict[str, str] = {}
    for part in attrs.get("style", "").split(";"):
        name, _, value = part.partition(":")
        if value:
            declarations[name.strip().lower()] = value.strip().lower()
    return declarations


class _Element:
    __slots__ = ("background", "colour", "hidden", "tag")

    def __init__(self, tag: str, hidden: bool, colour: str | None, background: str) -> None:
        self.tag, self.hidden, self.colour, self.background = tag, hidden, colour, background


class _VisibleText(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.chunks: list[str] = []
        self.hidden_found = False
        self._open: list[_Element] = []
        self._skip: list[str] = []  # open script/style/head/... tags
        self._rest_hidden = False  # a hiding element past MAX_DEPTH: nothing after it shows

    def _parent(self) -> _Element:
        return self._open[-1] if self._open else _Element("", False, None, PAGE_BACKGROUND)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIPPED_TAGS:
            self._skip.append(tag)
            return
        if tag in _BLOCK_TAGS:
            self.chunks.append("\n")
        if tag in _VOID_TAGS:
            return
        values = {name: value or "" for name, value in attrs}
        style, parent = _style(values), self._parent()
        background = (
            _colour(style.get("background-color") or style.get("background"))
            or _colour(values.get("bgcolor"))
            or parent.background
        )
        if background == "transparent":
            background = parent.background
        colour = _colour(style.get("color") or values.get("color")) or parent.colour
        hidden = (
            parent.hidden
            or "hidden" in values
            or style.get("display", "").startswith("none")
            or style.get("visibility", "").startswith(("hidden", "collapse"))
            or bool(_ZERO.match(style.get("font-size", "1").removesuffix("!important").strip()))
            or style.get("opacity", "1").strip() in ("0", "0.0", ".0")
            or colour == background
            or colour == "transparent"
        )
        if len(self._open) >= MAX_DEPTH:
            self._rest_hidden = self._rest_hidden or hidden
            return
        if self._open and tag in _SELF_CLOSING_SIBLINGS and self._open[-1].tag == tag:
            self._open.pop()  # an unclosed <p> or <li> ends where the next one starts
        self._open.append(_Element(tag, hidden, colour, background))

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIPPED_TAGS:
            if tag in self._skip:
                while self._skip.pop() != tag:
                    pass
            return
        if tag in _BLOCK_TAGS:
            self.chunks.append("\n")
        # Close up to the matching open tag; a stray end tag closes nothing.
        if any(element.tag == tag for element in self._open):
            while self._open.pop().tag != tag:
                pass

    def handle_data(self, data: str) -> None:
        if self._skip:
            # Scripts never belong in mail; CSS may carry prose only in its comments.
            skipped = self._skip[-1]
            if skipped == "script":
                self.hidden_found = self.hidden_found or bool(data.strip())
            elif skipped == "style":
                comments = _CSS_COMMENT.findall(data)
                self.hidden_found = self.hidden_found or any(_WORDS.search(c) for c in comments)
            return
        if self._rest_hidden or self._parent().hidden:
            self.hidden_found = self.hidden_found or bool(data.strip())
            return
        self.chunks.append(data)


def _strip_comments(html: str) -> tuple[str, bool]:
    """The text without comments, and whether any comment held words.

    A find() loop instead of a regex: an unclosed "<!--" ends the text, as in browsers, and
    the scan stays linear no matter how many unclosed comments there are.
    """
    out: list[str] = []
    pos, worded = 0, False
    while (start := html.find("<!--", pos)) >= 0:
        out.append(html[pos:start])
        end = html.find("-->", start + 4)
        comment = html[start + 4 : end if end >= 0 else len(html)]
        worded = worded or bool(_WORDS.search(_CONDITIONAL.sub(" ", comment)))
        if end < 0:
            return "".join(out), worded
        out.append(" ")
        pos = end + 3
    out.append(html[pos:])
    return "".join(out), worded


def visible_text(html: str) -> tuple[str, bool]:
    """The text a reader of this HTML sees, and whether any hidden text was removed."""
    html, commented = _strip_comments(html)
    html = _DECLARATION.sub(" ", _UNCLOSED_LT.sub("&lt;", html))
    parser = _VisibleText()
    parser.feed(html)
    parser.close()
    lines = (_SPACES.sub(" ", line).strip() for line in "".join(parser.chunks).splitlines())
    text = _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip()
    return text, commented or parser.hidden_found
