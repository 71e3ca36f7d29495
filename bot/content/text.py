"""Telegram-safe HTML and `{placeholder}` handling, shared by the linter and the engine."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from html.parser import HTMLParser

TELEGRAM_TEXT_LIMIT = 4096
# Not checked: the engine sends media without a caption (the step's text follows as a message).
TELEGRAM_CAPTION_LIMIT = 1024
PHONE_SCREEN_CHARS = 700
# Telegram caps a first name at 64 characters; we assume that much for any placeholder when
# checking the limit, so a long name can never push a message over it.
PLACEHOLDER_MAX_CHARS = 64

# Telegram starts cutting a button label on a phone at about 40 characters: past that a label is
# an error. How each other app shows and cuts labels is that app's declared capability, which
# `lessonbot lint` checks every label against, in every locale (bot/channels/fit.py).
LABEL_HARD_CHARS = 40

ALLOWED_TAGS = {"b", "i", "u", "s", "a", "code", "pre", "blockquote"}
BUILTIN_PLACEHOLDERS = {"first_name", "country"}

_PLACEHOLDER = re.compile(r"\{([^{}\n]*)\}")
_SPACED_PLACEHOLDER = re.compile(r"(?:,?[ \u00a0]+)?\{([^{}\n]*)\}")
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_BARE_AMP = re.compile(r"&(?!#\d+;|#x[0-9a-fA-F]+;|[a-zA-Z]+;)")
# A '<' that doesn't open a complete tag, like `a<b true`: Telegram refuses it.
_BARE_LT = re.compile(r"<(?!/?[a-zA-Z][\w-]*(\s[^<>]*)?>)")
# What would show literally in a plain-text button label: a tag or an entity.
_LABEL_HTML = re.compile(r"</?[a-zA-Z][^<>]*>|&(#\d+|#x[0-9a-fA-F]+|[a-zA-Z]+);")
_TAG = re.compile(r"<[^>]*>")


@dataclass(frozen=True)
class TextProblem:
    offset: int  # character offset in the text, so the linter can point at it
    message: str


def placeholders(text: str) -> list[tuple[int, str]]:
    """(offset, name) of every `{name}` in `text`."""
    return [(m.start(), m.group(1)) for m in _PLACEHOLDER.finditer(text)]


def render(text: str, values: dict[str, str], *, escape: bool = True) -> str:
    """Fill placeholders; an unknown or unset one becomes empty.

    Values are HTML-escaped for message texts; pass `escape=False` for plain text such as
    button labels, where an escaped "&" would show as "&amp;".
    """

    def fill(m: re.Match[str]) -> str:
        value = values.get(m.group(1), "")
        return html.escape(value) if escape else value

    def unset(m: re.Match[str]) -> str:
        return m.group(0) if values.get(m.group(1)) else ""

    # An unset one takes the space (and comma) before it along: a learner whose app gives no
    # name reads "Hi!" and "Well done!", not "Hi !" and "Well done, !".
    return _PLACEHOLDER.sub(fill, _SPACED_PLACEHOLDER.sub(unset, text))


def visible_length(text: str) -> int:
    """Characters Telegram counts: tags removed, entities decoded, placeholders at their max."""
    expanded = _PLACEHOLDER.sub("x" * PLACEHOLDER_MAX_CHARS, text)
    return len(html.unescape(_TAG.sub("", expanded)))


def strip_tags(text: str) -> str:
    """Plain text for a terminal."""
    return html.unescape(_TAG.sub("", text))


def check_html(text: str) -> list[TextProblem]:
    """Problems Telegram would refuse with "can't parse entities", with fixes."""
    checker = _TagChecker(text)
    checker.feed(text)
    checker.close()
    problems = checker.problems
    for tag, offset in checker.open_tags:
        problems.append(TextProblem(offset, f"<{tag}> is never closed; add </{tag}>"))
    for m in _BARE_AMP.finditer(text):
        problems.append(TextProblem(m.start(), "write &amp; for a literal '&'"))
    for m in _BARE_LT.finditer(text):
        problems.append(TextProblem(m.start(), "write &lt; for a literal '<'"))
    return sorted(problems, key=lambda p: p.offset)


def check_label(text: str) -> list[TextProblem]:
    """A button label is plain text: tags and entities would show as typed. One error is enough."""
    m = _LABEL_HTML.search(text)
    return [TextProblem(m.start(), "button labels are plain text; remove the HTML")] if m else []


def check_placeholders(text: str, known: set[str]) -> list[TextProblem]:
    import difflib

    problems = []
    for offset, name in placeholders(text):
        if not _NAME.match(name):
            problems.append(
                TextProblem(
                    offset,
                    f"'{{{name}}}' is not a placeholder name; write "
                    "lower_snake_case like {first_name}",
                )
            )
        elif name not in known:
            close = difflib.get_close_matches(name, sorted(known), n=1)
            hint = (
                f" (did you mean {{{close[0]}}}?)"
                if close
                else (f"; known: {', '.join('{' + k + '}' for k in sorted(known))}")
            )
            problems.append(TextProblem(offset, f"unknown placeholder {{{name}}}{hint}"))
    return problems


class _TagChecker(HTMLParser):
    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self._line_starts = [0] + [i + 1 for i, ch in enumerate(text) if ch == "\n"]
        self.open_tags: list[tuple[str, int]] = []
        self.problems: list[TextProblem] = []

    def _offset(self) -> int:
        line, col = self.getpos()
        return self._line_starts[line - 1] + col

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        offset = self._offset()
        if tag not in ALLOWED_TAGS:
            allowed = " ".join(f"<{t}>" for t in sorted(ALLOWED_TAGS))
            self.problems.append(TextProblem(offset, f"<{tag}> is not allowed; use {allowed}"))
            return
        names = {name for name, _ in attrs}
        if tag == "a" and "href" not in names:
            self.problems.append(TextProblem(offset, '<a> needs a link: <a href="https://...">'))
        extra = names - ({"href"} if tag == "a" else set())
        if extra:
            self.problems.append(
                TextProblem(offset, f"<{tag}> cannot have {', '.join(sorted(extra))}; remove it")
            )
        self.open_tags.append((tag, offset))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.problems.append(
            TextProblem(self._offset(), f"<{tag}/> is not allowed; Telegram has no empty tags")
        )

    def handle_endtag(self, tag: str) -> None:
        offset = self._offset()
        if tag not in ALLOWED_TAGS:
            self.problems.append(TextProblem(offset, f"</{tag}> is not an allowed tag"))
            return
        if not self.open_tags or self.open_tags[-1][0] != tag:
            expected = f"</{self.open_tags[-1][0]}>" if self.open_tags else "nothing"
            self.problems.append(
                TextProblem(offset, f"</{tag}> closes a tag that is not open; expected {expected}")
            )
            if any(t == tag for t, _ in self.open_tags):
                while self.open_tags and self.open_tags.pop()[0] != tag:
                    pass
            return
        self.open_tags.pop()


def label_length_problem(label: str, *, option: bool) -> tuple[bool, str] | None:
    """(is it an error, message) when a button label is too long for any app, else None.

    Only Telegram's hard limit is checked here; the limits of each app are lint's per-channel
    check (content knows no channel).
    """
    length = len(label)
    if length <= LABEL_HARD_CHARS:
        return None
    fix = "shorten it, and put the whole answer in the option's `text:`" if option else "shorten it"
    return True, (
        f"button label is {length} characters; Telegram cuts labels past {LABEL_HARD_CHARS}: {fix}"
    )
