"""The prompt: what the learner was last asked, and what a typed answer to it means.

Every message with choices is a prompt. The engine keeps the last one in the learner's state, so
a tap, a typed number or a typed label is resolved against what the learner can see, and nothing
else. On apps where many learners type (WhatsApp, LINE, Messenger, Zalo) this is the whole of
the conversation model: a channel renders a prompt as buttons, a list or numbered text, and what
comes back is resolved here the same way.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from bot.engine.matching import as_number, fold

# What a button means beyond its label, so the usual words of each locale can press it.
Meaning = Literal["", "yes", "no", "next"]


@dataclass(frozen=True)
class Button:
    """One choice on a prompt: its words, the token a tap sends, and what it means, if anything
    the locale's usual words can say ("yes", "no", "next")."""

    label: str
    token: str
    means: Meaning = ""


@dataclass(frozen=True)
class Prompt:
    """The last question shown: its text, its options in order, and who takes other text.

    `kind` names the asker; where it expects free text (`step` on an input step, `certificate`)
    a typed text that is no option goes to it, and elsewhere it gets a gentle re-prompt.
    """

    text: str = ""
    options: tuple[Button, ...] = ()
    kind: str = ""
    lettered: bool = False  # the options are shown as a), b), c)

    def to_json(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "options": [[c.label, c.token, c.means] for c in self.options],
            "kind": self.kind,
            "lettered": self.lettered,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Prompt:
        options = tuple(
            Button(str(label), str(token), means if means in ("yes", "no", "next") else "")
            for label, token, means in data.get("options") or ()
        )
        text, kind = str(data.get("text", "")), str(data.get("kind", ""))
        return cls(text, options, kind, bool(data.get("lettered")))


@dataclass(frozen=True)
class Resolved:
    """What a typed text names: one option, several (ask which), or none."""

    picked: tuple[int, ...] = ()

    @property
    def one(self) -> int | None:
        return self.picked[0] if len(self.picked) == 1 else None


# A course button reads "Stay safe online (2/6) ✅"; learners type the title alone.
_COUNTER = re.compile(r"\s*\([^()]*\d[^()]*\)\s*[✅🎓]*\s*$")
_SYMBOLS = ("So", "Sk", "Cf")  # emoji and marks such as ▶️ ⏭ ✅ that nobody types


def _plain(label: str) -> str:
    """A label without its counter, its symbols and their emoji variation selectors."""
    label = _COUNTER.sub("", label)
    return "".join(
        ch
        for ch in label
        if unicodedata.category(ch) not in _SYMBOLS and not "\ufe00" <= ch <= "\ufe0f"
    )


def words_of(text: str) -> list[str]:
    """Folded words, split on spaces and punctuation (Thai and Khmer rarely use spaces)."""
    spaced = "".join(" " if unicodedata.category(ch).startswith(("P", "Z")) else ch for ch in text)
    return [w for w in (fold(part) for part in spaced.split()) if w]


def resolve(
    typed: str, prompt: Prompt, words: Mapping[str, Iterable[str]] | None = None
) -> Resolved:
    """The options of `prompt` that `typed` names.

    In order, the first rule that names any option wins: the label itself (ignoring case,
    spacing, punctuation, accents, a course's counter and emoji), the option's number or letter,
    a locale's word for yes, no or next, a prefix of labels, and the first word of labels.
    `words` maps a meaning ("yes", "no", "next") to the words that mean it in the locale.
    """
    key = fold(_plain(typed)) or fold(typed)
    labels = [fold(_plain(c.label)) or fold(c.label) for c in prompt.options]
    if not key or not labels:
        return Resolved()
    exact = [i for i, label in enumerate(labels) if label == key]
    if exact:
        return Resolved(tuple(exact))
    number = as_number(typed)
    if number is not None and 1 <= number <= len(labels):
        return Resolved((number - 1,))
    if prompt.lettered and len(key) == 1 and "a" <= key <= "z":
        index = ord(key) - ord("a")
        if index < len(labels):
            return Resolved((index,))
    meanings = {m for m, said in (words or {}).items() if key in {fold(w) for w in said}}
    meant = [i for i, c in enumerate(prompt.options) if c.means and c.means in meanings]
    if meant:
        return Resolved(tuple(meant))
    if len(key) >= 2:
        prefixed = [i for i, label in enumerate(labels) if label.startswith(key)]
        if prefixed:
            return Resolved(tuple(prefixed))
    typed_words = words_of(typed)
    if len(typed_words) == 1:
        first = [
            i
            for i, c in enumerate(prompt.options)
            if (words_of(_plain(c.label)) or [""])[0] == typed_words[0]
        ]
        if first:
            return Resolved(tuple(first))
    return Resolved()
