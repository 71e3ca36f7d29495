#!/usr/bin/env python3
"""Write golden transcript cases for a lesson: one walk per country branch, per locale.

    python scripts/golden_cases.py money/borrow-safely [--countries ID MY PH BN] [--choices]

A case is the learner's inputs, typed as numbers the way a learner on any app would; the test
(`tests/test_golden.py`) replays it, and `pytest tests/test_golden.py --update-goldens` records
what the bot says. The walk answers each quiz right, picks the first option of a choice (or,
with `--choices`, each option of the lesson's first choice in turn), rates the lesson 4 and
types a plausible answer into input steps. Countries default to every country a step's `when:`
names, plus one that none names, so every branch is walked in every locale.
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bot.content import load_library  # noqa: E402
from bot.content.model import ChoiceStep, InputStep, QuestionStep, Step, SurveyStep  # noqa: E402
from bot.engine import Context, LearnerState, Press, Text, advance, tokens  # noqa: E402
from bot.engine.tokens import lesson_token  # noqa: E402
from bot.i18n import Catalogs  # noqa: E402

GOLDEN = ROOT / "tests" / "golden"
CLOCK = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
NAMES = {"ID": "Sari", "MY": "Aisyah", "PH": "Rosa", "TH": "Noi", "VN": "Lan", "KH": "Sophea"}
TYPED = {"number": "25", "phone": "+66 81 234 5678", "text": "Noodles"}
MAX_INPUTS = 80


def branch_countries(steps: tuple[Step, ...]) -> list[str]:
    named: list[str] = []
    for step in steps:
        value = (step.when or {}).get("country")
        for code in [value] if isinstance(value, str) else value or []:
            if code not in named:
                named.append(code)
    # and a learner whom no branch names: another country, or none given
    elsewhere = next((c for c in ("BN", "SG", "LA", "KH", "MM") if c not in named), "")
    return [*named, elsewhere] if named else ["ID"]


def learner(country: str) -> dict[str, str]:
    return {"first_name": NAMES.get(country, "Dara"), **({"country": country} if country else {})}


def answer(step: Step, options: list[str], pick: int) -> str:
    """What the learner types at `step`, whose prompt offers `options` (their tokens)."""
    if isinstance(step, QuestionStep):
        ids = [o.id for o in step.options]
        for n, token in enumerate(options, 1):
            parsed = tokens.parse(token)
            if isinstance(parsed, tokens.StepPress) and parsed.option == step.correct:
                return str(n)
        return str(ids.index(step.correct) + 1)
    if isinstance(step, ChoiceStep):
        return str(min(pick, len(step.options)))
    if isinstance(step, SurveyStep) and step.kind == "scale":
        return "4"
    if isinstance(step, SurveyStep) and step.kind == "text":
        return "Useful, thank you"
    if isinstance(step, InputStep):
        return (step.choices or ("",))[0] if step.check == "one_of" else TYPED[step.check]
    return "1"


def walk(lib: Any, ctx: Context, key: str, locale: str, country: str, pick: int) -> list[str]:
    course_id, lesson_id = key.split("/")
    lesson = lib.lesson(course_id, lesson_id)
    state = LearnerState(locale=locale, fields=learner(country), onboarding="")
    state, _ = advance(lib, state, Press(lesson_token(lesson)), ctx)
    inputs = [f"press {lesson.lesson.title}"]
    first_choice = next((s.id for s in lesson.steps if isinstance(s, ChoiceStep)), None)
    while state.position is not None and state.position.lesson_key == key:
        step = lesson.steps[lesson.index_of(state.position.step)]
        typed = answer(
            step, [o.token for o in state.prompt.options], pick if step.id == first_choice else 1
        )
        inputs.append(typed)
        state, _ = advance(lib, state, Text(typed), ctx)
        if len(inputs) > MAX_INPUTS:
            raise SystemExit(f"{key}: the walk did not finish in {MAX_INPUTS} inputs")
    return [*inputs, "/progress"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("lesson", help="course/lesson")
    parser.add_argument("--countries", nargs="*", help="default: one per country branch")
    parser.add_argument("--choices", action="store_true", help="each option of the first choice")
    args = parser.parse_args()
    lib = load_library(ROOT / "lessons")[0]
    catalogs = Catalogs(ROOT / "locales")
    ctx = Context(now=CLOCK, texts=catalogs, languages=catalogs.languages())
    course_id, lesson_id = args.lesson.split("/")
    lesson = lib.lesson(course_id, lesson_id)
    if lesson is None:
        raise SystemExit(f"no lesson {args.lesson}")
    countries = args.countries or branch_countries(lesson.steps)
    first = next((s for s in lesson.steps if isinstance(s, ChoiceStep)), None)
    picks = range(1, len(first.options) + 1) if args.choices and first else [1]
    for locale in catalogs.languages():
        for country in countries:
            for pick in picks:
                case = "-".join(
                    [
                        f"walk-{country.lower() or 'none'}",
                        *([f"choice{pick}"] if args.choices else []),
                    ]
                )
                suffix = "" if locale == "en" else f".{locale}"
                path = GOLDEN / f"{lesson_id}.{case}{suffix}.yaml"
                inputs = walk(lib, ctx, args.lesson, locale, country, pick)
                data = {
                    "lesson": args.lesson,
                    "fields": learner(country),
                    "start_lesson": args.lesson,
                    "locale": locale,
                    "inputs": inputs,
                }
                path.write_text(
                    yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8"
                )
                print(path.relative_to(ROOT))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
