"""The engine's messages for apps without HTML: text in the app's own markup, cut to its limits.

The engine writes Telegram's HTML subset (<b> <i> <u> <s> <a> <code> <pre> <blockquote>).
WhatsApp marks up *bold*, _italic_, ~struck~ and ```code```; LINE, Messenger and Zalo show plain
text. A link keeps its address beside its words, because an app without HTML can't hide it.
"""

from __future__ import annotations

from dataclasses import dataclass
from html.parser import HTMLParser


@dataclass(frozen=True)
class Markup:
    """How an app marks each tag up: (before, after), or None to drop the tag and keep its text."""

    bold: tuple[str, str] | None = None
    italic: tuple[str, str] | None = None
    strike: tuple[str, str] | None = None
    code: tuple[str, str] | None = None
    quote: str = ""  # what starts each quoted line

    def around(self, tag: str) -> tuple[str, str]:
        found = {
            "b": self.bold,
            "i": self.italic,
            "s": self.strike,
            "code": self.code,
            "pre": self.code,
        }.get(tag)
        return found or ("", "")


WHATSAPP = Markup(
    bold=("*", "*"), italic=("_", "_"), strike=("~", "~"), code=("```", "```"), quote="> "
)
PLAIN = Markup()


class _Flattener(HTMLParser):
    def __init__(self, markup: Markup) -> None:
        super().__init__(convert_charrefs=True)
        self.markup = markup
        self.out: list[str] = []
        self.href: list[str] = []
        self.quoting = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self.href.append(dict(attrs).get("href") or "")
        elif tag == "blockquote":
            self.quoting += 1
            self.out.append(self.markup.quote)
        else:
            self.out.append(self.markup.around(tag)[0])

    def handle_endtag(self, tag: str) -> None:
        if tag == "a":
            href = self.href.pop() if self.href else ""
            # The words alone when they are the address already ("https://x.org" linked).
            if href and not href.startswith("tg:") and href not in "".join(self.out[-3:]):
                self.out.append(f" ({href})")
        elif tag == "blockquote":
            self.quoting = max(0, self.quoting - 1)
        else:
            self.out.append(self.markup.around(tag)[1])

    def handle_data(self, data: str) -> None:
        if self.quoting and self.markup.quote:
            data = data.replace("\n", "\n" + self.markup.quote)
        self.out.append(data)


def flatten(html: str, markup: Markup) -> str:
    """`html` (the engine's Telegram subset) as text in `markup`."""
    parser = _Flattener(markup)
    parser.feed(html)
    parser.close()
    return "".join(parser.out)


def _cut(text: str, limit: int) -> int:
    """Where to end a part of at most `limit` characters: the latest paragraph break, line
    break or space in its second half (so no stub is left), or at the limit itself."""
    for mark in ("\n\n", "\n", " "):
        at = text.rfind(mark, limit // 2, limit + 1)
        if at > 0:
            return at
    return limit


def split(text: str, limit: int, last: int | None = None) -> list[str]:
    """Parts of at most `limit` characters, the last of at most `last` (a message carrying
    buttons may be shorter than a plain one), broken between paragraphs, lines or words."""
    last = limit if last is None else min(last, limit)
    text = text.strip()
    tail_start = 0
    if len(text) > last:
        # The tail: the longest end of the text, starting at a break, that fits `last`.
        tail_start = len(text) - last
        for mark in ("\n\n", "\n", " "):
            at = text.find(mark, tail_start, tail_start + last // 2)
            if at >= 0:
                tail_start = at
                break
    head, tail = text[:tail_start], text[tail_start:].strip()
    parts: list[str] = []
    while head.strip():
        head = head.strip()
        if len(head) <= limit:
            parts.append(head)
            break
        at = _cut(head, limit)
        parts.append(head[:at].strip())
        head = head[at:]
    return [*parts, tail] if tail else parts or [""]
