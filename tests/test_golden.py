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
from bot.engine.tokens import lesson_token
from bot.i18n import Catalogs

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = Path(__file__).with_name("golden")
CASES = sorted(GOLDEN.glob("*.yaml"))
CLOCK = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


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


def replay(library: Any, case: dict[str, Any]) -> list[dict[str, Any]]:
    state = LearnerState(
        locale=case.get("locale", "en"),
        fields=dict(case.get("fields", {})),
        onboarding=case.get("onboarding", ""),
    )
    catalogs = Catalogs(ROOT / "locales")
    ctx = Context(now=CLOCK, texts=catalogs, languages=catalogs.languages())
    buttons: list[tuple[str, str]] = []
    transcript = []
    if "start_lesson" in case:  # as if the learner pressed "▶️ <lesson>" on a lesson offer
        course_id, lesson_id = case["start_lesson"].split("/")
        lesson = library.lesson(course_id, lesson_id)
        buttons = [(lesson.lesson.title, lesson_token(lesson))]
    for line in map(str, case["inputs"]):
        state, outputs = advance(library, state, _event(line, buttons), ctx)
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


def test_every_shipped_lesson_has_a_transcript(library: Any) -> None:
    covered = {p.name.split(".")[0] for p in CASES}
    for course in library.courses:
        for lesson in course.lessons:
            assert lesson.id in covered, f"add tests/golden/{lesson.id}.<case>.yaml"
