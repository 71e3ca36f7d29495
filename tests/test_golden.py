"""Golden transcripts: each `golden/<lesson>.<case>.yaml` replays learner inputs through the
engine and compares every message and button with the recorded ones.

Run `pytest tests/test_golden.py --update-goldens` after an intended change, then review the
diff of the YAML files like any other change.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.engine import Command, Context, Event, LearnerState, Press, Say, Text, advance
from bot.engine.matching import match_label
from bot.engine.prompt import resolve
from bot.engine.tokens import lesson_token
from bot.i18n import Catalogs

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = Path(__file__).with_name("golden")
CASES = sorted(GOLDEN.glob("*.yaml"))
CLOCK = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
# Read once: loading nine catalogs for each of the ~3,000 replays cost minutes of every CI run.
CATALOGS = Catalogs(ROOT / "locales")


def _event(line: str, buttons: list[tuple[str, str]]) -> Event:
    if line.startswith("/"):
        name, _, arg = line[1:].partition(" ")
        return Command(name, arg)
    if line.startswith("press "):
        label = line.removeprefix("press ")
        picked = match_label(label, [lbl for lbl, _ in buttons])
        assert picked is not None, f"no button {label!r} among {[b for b, _ in buttons]}"
        return Press(buttons[picked][1])
    return Text(line.removeprefix("type "))


class _Dumper(yaml.SafeDumper):
    """Multi-line texts as `|` blocks, so transcript diffs read like the lessons."""


_Dumper.add_representer(
    str,
    lambda d, s: d.represent_scalar("tag:yaml.org,2002:str", s, style="|" if "\n" in s else None),
)


def _as(mode: str, event: Event, state: LearnerState) -> Event:
    """The same answer given another way: tapped, or typed as the option's words.

    A typed input that names one option of the prompt on screen becomes a tap on that button
    ("tapped") or the button's own label typed out ("labels"); anything else stays as it is.
    """
    if mode == "recorded" or not isinstance(event, Text):
        return event
    choice = resolve(event.text, state.prompt, {}).one
    if choice is None and isinstance(event, Text):
        # The locale's yes/next words resolve with the catalogs; leave those as typed.
        return event
    option = state.prompt.options[choice]
    return Press(option.token) if mode == "tapped" else Text(option.label)


def replay(library: Any, case: dict[str, Any], mode: str = "recorded") -> list[dict[str, Any]]:
    state = LearnerState(
        locale=case.get("locale", "en"),
        fields=dict(case.get("fields", {})),
        onboarding=case.get("onboarding", ""),
    )
    ctx = Context(now=CLOCK, texts=CATALOGS, languages=CATALOGS.languages())
    buttons: list[tuple[str, str]] = []
    transcript = []
    if "start_lesson" in case:  # as if the learner pressed "▶️ <lesson>" on a lesson offer
        course_id, lesson_id = case["start_lesson"].split("/")
        lesson = library.lesson(course_id, lesson_id)
        buttons = [(lesson.lesson.title, lesson_token(lesson))]
    for line in map(str, case["inputs"]):
        event = _as(mode, _event(line, buttons), state)
        state, outputs = advance(library, state, event, ctx)
        said = [o for o in outputs if isinstance(o, Say)]
        buttons = [(b.label, b.token) for s in said for row in s.buttons for b in row]
        transcript.append(
            {
                "in": line,
                "out": [
                    {
                        "text": s.text,
                        **(
                            {"buttons": [[b.label for b in row] for row in s.buttons]}
                            if s.buttons
                            else {}
                        ),
                    }
                    for s in said
                ],
            }
        )
    return transcript


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_transcript(path: Path, library: Any, update_goldens: bool) -> None:
    case = yaml.safe_load(path.read_text(encoding="utf-8"))
    actual = replay(library, case)
    if update_goldens:
        case["transcript"] = actual
        path.write_text(
            yaml.dump(case, Dumper=_Dumper, allow_unicode=True, sort_keys=False, width=100),
            encoding="utf-8",
        )
        return
    assert actual == case.get("transcript"), (
        f"{path.name} differs; if the change is intended, run pytest --update-goldens"
    )


@pytest.mark.parametrize("mode", ["tapped", "labels"])
@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_tapping_or_typing_the_words_says_the_same(path: Path, library: Any, mode: str) -> None:
    """Every shipped lesson in every locale, walked by taps and by typed labels as recorded by
    typed numbers: a typed number or label does what tapping that button does."""
    case = yaml.safe_load(path.read_text(encoding="utf-8"))
    recorded = [step["out"] for step in case["transcript"]]
    assert [step["out"] for step in replay(library, case, mode)] == recorded


def test_every_shipped_lesson_has_a_transcript(library: Any) -> None:
    covered = {p.name.split(".")[0] for p in CASES}
    for course in library.courses:
        for lesson in course.lessons:
            assert lesson.id in covered, f"add tests/golden/{lesson.id}.<case>.yaml"
