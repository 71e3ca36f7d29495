"""Translations: the pybabel workflow end to end, catalog lint, locale choice, Zawgyi input."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from babel.messages.pofile import read_po, write_po

from bot.content import load_library
from bot.engine import Context, LearnerState, Say, Start, advance
from bot.i18n import Catalogs, negotiate
from bot.i18n.zawgyi import to_unicode
from bot.lint import lint

ROOT = Path(__file__).resolve().parent.parent
CTX = "online-safety/spot-the-scam/hello/button"


def pybabel(*args: str, cwd: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "babel.messages.frontend", *args],
        cwd=cwd,
        check=True,
        capture_output=True,
    )


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A copy of one course, the Babel config, and an empty locales folder."""
    shutil.copytree(ROOT / "lessons" / "online-safety", tmp_path / "lessons" / "online-safety")
    shutil.copy(ROOT / "babel.cfg", tmp_path)
    (tmp_path / "locales").mkdir()
    return tmp_path


def init_catalog(project: Path, locale: str) -> Path:
    """Extract the lessons and start `locale`'s catalog, as the README's commands do."""
    pybabel("extract", "-F", "babel.cfg", "-o", "locales/lessons.pot", ".", cwd=project)
    pybabel(
        "init",
        "-i",
        "locales/lessons.pot",
        "-d",
        "locales",
        "-D",
        "lessons",
        "-l",
        locale,
        cwd=project,
    )
    return project / f"locales/{locale}/LC_MESSAGES/lessons.po"


def translate(po: Path, context: str, text: str) -> int:
    """Translate one entry of `po`; return its line number."""
    with po.open("rb") as handle:
        catalog = read_po(handle)
    found = next(m for m in catalog if m.context == context)
    found.string = text
    with po.open("wb") as handle:
        write_po(handle, catalog)
    with po.open("rb") as handle:
        return next(m.lineno for m in read_po(handle) if m.context == context)


def test_extract_update_compile_then_the_bot_speaks_thai(project: Path) -> None:
    po = init_catalog(project, "th")
    translate(po, CTX, "ดูตัวอย่าง")
    pybabel("compile", "-d", "locales", "-D", "lessons", cwd=project)
    assert (po.with_suffix(".mo")).exists()
    library, _ = load_library(project / "lessons")
    catalogs = Catalogs(project / "locales")
    state = LearnerState(locale="th", onboarding="", fields={"first_name": "Ana"})
    _, outputs = advance(
        library,
        state,
        Start("online-safety"),
        Context(texts=catalogs, languages=catalogs.languages()),
    )
    labels = [b.label for o in outputs if isinstance(o, Say) for row in o.buttons for b in row]
    assert labels == ["ดูตัวอย่าง"]
    assert "th" in catalogs.languages() and catalogs.languages()["th"] == "ไทย"


def test_changed_source_goes_fuzzy_keeps_showing_and_lint_reports_it(project: Path) -> None:
    po = init_catalog(project, "id")
    translate(po, CTX, "Tunjukkan")
    lesson = project / "lessons/online-safety/01-spot-the-scam.yaml"
    lesson.write_text(lesson.read_text().replace("button: Show me", "button: Show me how"))
    pybabel("extract", "-F", "babel.cfg", "-o", "locales/lessons.pot", ".", cwd=project)
    pybabel("update", "-i", "locales/lessons.pot", "-d", "locales", "-D", "lessons", cwd=project)
    with po.open("rb") as handle:
        entry = next(m for m in read_po(handle) if m.context == CTX)
    assert entry.fuzzy and entry.id == "Show me how" and entry.string == "Tunjukkan"
    # The bot shows the slightly stale translation rather than falling back to English.
    assert Catalogs(project / "locales").lesson("id", CTX, "Show me how") == "Tunjukkan"
    problems, coverage = lint([str(project / "locales")], str(project / "lessons"))
    fuzzy = [d for d in problems if "fuzzy" in d.message]
    assert [(Path(d.path).name, d.line, str(d.severity)) for d in fuzzy] == [
        ("lessons.po", entry.lineno, "warning")
    ]
    assert coverage[0].fuzzy == 1


def test_a_translated_label_too_long_for_a_channel_is_flagged_at_its_line(project: Path) -> None:
    po = init_catalog(project, "id")
    warned = translate(po, CTX, "Tunjukkan kepada saya dulu")  # 26 characters
    problems, _ = lint([str(po)], str(project / "lessons"))
    assert [(d.line, str(d.severity), d.message) for d in problems if "label" in d.message] == [
        (
            warned,
            "warning",
            "whatsapp shows this choice as a list, and cuts a row's label past 24 characters "
            "(the whole label shows only in the row's description); in `id` the translation "
            "`Tunjukkan kepada saya dulu` is 26 characters: shorten the translation",
        )
    ]
    refused = translate(po, CTX, "Tunjukkan kepada saya dulu semuanya sekarang")  # 44
    problems, _ = lint([str(po)], str(project / "lessons"))
    assert [(d.line, str(d.severity)) for d in problems if "label" in d.message] == [
        (refused, "error")
    ]


def test_broken_translations_are_caught_at_the_po_line(project: Path) -> None:
    po = init_catalog(project, "vi")
    with po.open("rb") as handle:
        hello = next(m for m in read_po(handle) if (m.context or "").endswith("/hello/text"))
    lost = translate(po, hello.context, "Xin chào! <b>Lừa đảo")  # lost {first_name}, open <b>
    label = translate(po, CTX, "<b>Xem</b>")
    problems, _ = lint([str(po)], str(project / "lessons"))
    errors = {(d.line, d.message.split(";")[0]) for d in problems if d.severity == "error"}
    assert (lost, "the translation lost the placeholder {first_name}") in errors
    assert (lost, "<b> is never closed") in errors
    assert (label, "button labels are plain text") in errors


def test_linting_one_locale_folder_checks_only_its_catalogs(project: Path) -> None:
    broken = translate(init_catalog(project, "vi"), CTX, "<b>Xem</b>")
    init_catalog(project, "th")
    problems, coverage = lint([str(project / "locales" / "vi")], str(project / "lessons"))
    assert broken in {d.line for d in problems if d.severity == "error"}
    assert {c.locale for c in coverage} == {"vi"}
    problems, coverage = lint([str(project / "locales" / "th")], str(project / "lessons"))
    assert not [d for d in problems if d.severity == "error"] and len(coverage) == 1


@pytest.mark.parametrize(
    ("hint", "locale"),
    [
        ("in", "id"),
        ("id-ID", "id"),
        ("tl", "fil"),
        ("fil", "fil"),
        ("ms-MY", "ms"),
        ("th_TH", "th"),
        ("vi", "vi"),
        ("km", "km"),
        ("lo", "lo"),
        ("my", "my"),
        ("en-GB", "en"),
        ("fr", "en"),
        ("", "en"),
    ],
)
def test_telegram_language_codes_map_to_shipped_locales(hint: str, locale: str) -> None:
    shipped = ["en", "id", "ms", "th", "vi", "fil", "km", "lo", "my"]
    assert negotiate(hint, shipped, "en") == locale


@pytest.mark.parametrize(
    ("zawgyi", "unicode"),
    [
        ("\u103b\u1019\u1014\u1039\u1019\u102c", "မြန်မာ"),  # "Myanmar" as Zawgyi keyboards type it
        (
            "\u1031\u1000\u103a\u1038\u1007\u1030\u1038\u1010\u1004\u1039\u1015\u102b\u1010\u101a\u1039",
            "ကျေးဇူးတင်ပါတယ်",
        ),  # "thank you"
    ],
)
def test_zawgyi_is_converted(zawgyi: str, unicode: str) -> None:
    assert to_unicode(zawgyi) == unicode


@pytest.mark.parametrize("text", ["မြန်မာ", "ကျေးဇူးတင်ပါတယ်", "hello 123", "ไทย"])
def test_unicode_and_other_scripts_are_left_alone(text: str) -> None:
    assert to_unicode(text) == text


@pytest.mark.parametrize(
    ("config", "domain"), [("babel.cfg", "lessons"), ("babel-messages.cfg", "messages")]
)
def test_committed_templates_hold_every_text_in_the_code(
    tmp_path: Path, config: str, domain: str
) -> None:
    """A text added without `pybabel extract` would never reach translators."""
    fresh = tmp_path / f"{domain}.pot"
    pybabel("extract", "-F", config, "-o", str(fresh), ".", cwd=ROOT)
    keys = []
    for pot in (fresh, ROOT / "locales" / f"{domain}.pot"):
        with pot.open("rb") as handle:
            keys.append({(m.context, str(m.id)) for m in read_po(handle) if m.id})
    assert keys[0] == keys[1], "run scripts/catalogs"


def test_shipped_catalogs_are_complete_and_clean() -> None:
    problems, coverage = lint([str(ROOT / "locales")], str(ROOT / "lessons"))
    assert [str(p) for p in problems if p.severity == "error"] == []
    incomplete = [str(c) for c in coverage if c.translated != c.total]
    assert incomplete == []
    assert {c.locale for c in coverage} == {"id", "ms", "th", "vi", "fil", "km", "lo", "my"}


async def test_burmese_typed_in_zawgyi_presses_the_button(database_url: str) -> None:
    from myanmar.converter import convert

    from bot.engine import Text
    from bot.service import LessonService
    from bot.store import Identity, LearnerStore, create_engine, upgrade

    engine = create_engine(database_url)
    await upgrade(engine)
    catalogs = Catalogs(ROOT / "locales")
    library, _ = load_library(ROOT / "lessons")
    service = LessonService(library, LearnerStore(engine), catalogs, catalogs.languages())
    who = Identity("test", "mm1", first_name="Aung", language="my", language_chosen=True)
    await service.handle(who, Start("online-safety"))
    replies = await service.handle(who, Text(catalogs.ui("my", "Start learning")))
    label = replies[-1].buttons[0][0].label  # the first step's button, in Burmese
    zawgyi = str(convert(label, "unicode", "zawgyi"))
    assert zawgyi != label and to_unicode(zawgyi) == label
    after = await service.handle(who, Text(zawgyi))
    reprompt = catalogs.ui("my", "Please tap one of the buttons, or type its number.")
    assert reprompt != "Please tap one of the buttons, or type its number."  # translated
    assert all(r.text != reprompt for r in after)  # understood, not asked again
    assert after[-1].text != replies[-1].text  # moved on to the next step
    await engine.dispose()


def test_thai_dates_count_the_buddhist_era() -> None:
    from datetime import date

    catalogs = Catalogs(ROOT / "locales")
    assert catalogs.day("th", date(2026, 12, 1)) == "1 ธันวาคม พ.ศ. 2569"
    assert catalogs.day("en", date(2026, 12, 1)) == "December 1, 2026"
