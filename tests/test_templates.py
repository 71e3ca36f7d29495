"""The WhatsApp template registry: loading it, filling templates, and lint's rules for the file.

Each rule is shown on a small file written to tmp_path and pinned to the line and column of the
value at fault, found by searching the file's text, so the cases say exactly what they test.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest

from bot.channels.templates import (
    BODY_CHARS,
    PARAMETER_CHARS,
    PURPOSES,
    WHATSAPP_LANGUAGES,
    MissingValue,
    Template,
    Templates,
    load_templates,
    whatsapp_language,
)
from bot.content import Diagnostic, Severity
from bot.lint import lint

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = ROOT / "templates" / "whatsapp.yaml"
LOCALES = ("en", "id", "ms", "th", "vi", "fil", "lo", "km", "my")  # what the bot ships
ERROR, WARNING = Severity.ERROR, Severity.WARNING

GOOD = """\
version: 1
kind: whatsapp-templates
templates:
  reminder:
    name: lesson_reminder
    category: marketing
    parameters: [name, course]
    locales:
      en:
        language: en
        body: "Hi {{1}}, your next lesson of {{2}} is ready. Reply to go on."
      id:
        language: id
        body: "Halo {{1}}, pelajaran berikutnya dari {{2}} sudah siap. Balas untuk lanjut."
  survey:
    name: follow_up_survey
    category: utility
    parameters: [name]
    locales:
      en:
        language: en
        body: "Hi {{1}}, would you answer five short questions? Reply to start."
  broadcast:
    name: programme_update
    category: marketing
    parameters: [text]
    locales:
      en:
        language: en_US
        body: "News from your course team: {{1}} Send /stop for no more news."
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "templates" / "whatsapp.yaml"
    path.parent.mkdir(exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def at(text: str, marker: str, nth: int = 0) -> tuple[int, int]:
    """1-based (line, col) of the `nth` occurrence of `marker` in `text`."""
    pos = [m.start() for m in re.finditer(re.escape(marker), text)][nth]
    return text.count("\n", 0, pos) + 1, pos - (text.rfind("\n", 0, pos) + 1) + 1


def problems_of(
    tmp_path: Path, text: str, shipped: tuple[str, ...] | None = None
) -> list[Diagnostic]:
    return load_templates(write(tmp_path, text), shipped=shipped)[1]


def one(found: list[Diagnostic], phrase: str) -> Diagnostic:
    matches = [d for d in found if phrase in d.message]
    assert len(matches) == 1, (phrase, [str(d) for d in found])
    return matches[0]


# -- loading -------------------------------------------------------------------------------------


def test_a_good_file_loads_every_template_with_its_fields(tmp_path: Path) -> None:
    templates, problems = load_templates(write(tmp_path, GOOD))
    assert problems == []
    assert len(templates) == 4 and templates
    assert templates.find("reminder", "en") == Template(
        purpose="reminder",
        name="lesson_reminder",
        category="marketing",
        language="en",
        parameters=("name", "course"),
        body="Hi {{1}}, your next lesson of {{2}} is ready. Reply to go on.",
    )
    assert templates.find("broadcast", "en").language == "en_US"  # type: ignore[union-attr]
    assert [t.language for t in templates.for_purpose("reminder")] == ["en", "id"]
    assert templates.locales("reminder") == ["en", "id"]
    assert {t.purpose for t in templates} == set(PURPOSES)


def test_find_never_falls_back_to_another_language(tmp_path: Path) -> None:
    templates, _ = load_templates(write(tmp_path, GOOD))
    assert templates.find("survey", "id") is None  # no Indonesian survey: not the English one
    assert templates.find("reminder", "km") is None
    assert templates.find("reminder", "id-ID") is templates.find("reminder", "id")
    assert templates.find("nothing", "en") is None


def test_a_missing_file_is_an_empty_registry_and_no_problem(tmp_path: Path) -> None:
    templates, problems = load_templates(tmp_path / "templates" / "whatsapp.yaml")
    assert problems == [] and len(templates) == 0 and not templates
    assert Templates().find("reminder", "en") is None


def test_a_broken_file_reports_with_its_position_and_keeps_the_valid_entries(
    tmp_path: Path,
) -> None:
    text = GOOD.replace("category: utility", "category: transactional")
    templates, problems = load_templates(write(tmp_path, text))
    bad = one(problems, "`category:` must be utility, marketing, authentication")
    assert (bad.line, bad.col, bad.severity) == (*at(text, "transactional"), ERROR)
    assert bad.path == str(tmp_path / "templates" / "whatsapp.yaml")
    assert templates.find("survey", "en") is None  # the broken entry is left out
    assert templates.find("reminder", "en") is not None and templates.find("broadcast", "en")


def test_an_unreadable_file_is_one_error_and_an_empty_registry(tmp_path: Path) -> None:
    text = "version: 1\nkind: whatsapp-templates\ntemplates: [unclosed\n"
    templates, problems = load_templates(write(tmp_path, text))
    assert not templates and len(problems) == 1 and problems[0].severity is ERROR
    assert "YAML syntax error" in problems[0].message


# -- the shipped registry ------------------------------------------------------------------------


def test_the_shipped_registry_is_clean_and_covers_every_locale_whatsapp_has() -> None:
    templates, problems = load_templates(SHIPPED, shipped=LOCALES)
    assert problems == []
    for purpose in PURPOSES:
        assert sorted(templates.locales(purpose)) == sorted(
            loc for loc in LOCALES if whatsapp_language(loc)
        )
        for template in templates.for_purpose(purpose):
            assert template.language in WHATSAPP_LANGUAGES
            assert template.category in ("utility", "marketing", "authentication")
    # No template language for Khmer or Burmese: the sender then says so ("no template").
    assert whatsapp_language("km") is None and whatsapp_language("my") is None
    assert templates.find("reminder", "km") is None and templates.find("survey", "my") is None


def test_the_shipped_reminder_reads_as_it_will_be_sent() -> None:
    templates, _ = load_templates(SHIPPED)
    reminder = templates.find("reminder", "en")
    assert reminder is not None
    assert reminder.preview({"name": "Ana", "course": "Online safety"}) == (
        "Hi Ana, your next lesson of Online safety is ready. Reply to go on, or send /stop "
        "for no more reminders."
    )


# -- filling -------------------------------------------------------------------------------------

REMINDER = Template(
    "reminder", "lesson_reminder", "marketing", "en", ("name", "course"), "Hi {{1}}, {{2}} waits."
)
BROADCAST = Template("broadcast", "update", "marketing", "en", ("text",), "News: {{1}} Bye.")


def test_fill_gives_the_values_in_parameter_order_and_preview_fills_the_body() -> None:
    values = {"course": "Selling online", "name": "Siti", "text": "unused"}
    assert REMINDER.fill(values) == ["Siti", "Selling online"]
    assert REMINDER.preview(values) == "Hi Siti, Selling online waits."


@pytest.mark.parametrize("values", [{"name": "Siti"}, {"name": "Siti", "course": " \n\t "}])
def test_a_missing_or_blank_value_raises_a_key_error_naming_it(values: dict[str, str]) -> None:
    with pytest.raises(KeyError) as raised:
        REMINDER.fill(values)
    assert isinstance(raised.value, MissingValue) and raised.value.args == ("course",)
    assert "`course`" in str(raised.value) and "lesson_reminder" in str(raised.value)


def test_a_value_is_made_one_line_without_tabs_or_runs_of_spaces() -> None:
    text = "Grant open!\n\nApply by Friday.\r\nCall\t\tus:      0800   123"
    [filled] = BROADCAST.fill({"text": text})
    assert filled == "Grant open! · Apply by Friday. · Call us: 0800 123"
    assert not re.search(r"[\n\t]| {5,}", filled)


def test_a_long_value_is_cut_to_fit_the_parameter_and_the_body() -> None:
    [filled] = BROADCAST.fill({"text": "x" * 5000})
    assert len(filled) <= PARAMETER_CHARS and filled.endswith("…")
    assert len(BROADCAST.preview({"text": "x" * 5000})) == BODY_CHARS
    short = Template("broadcast", "update", "marketing", "en", ("text",), "{{1}}" + "y" * 1000)
    assert len(short.preview({"text": "z" * 900})) == BODY_CHARS


# -- lint's rules for the file ------------------------------------------------------------------

RULES: list[tuple[str, Callable[[str], str], str, Severity, str]] = [
    # (id, edit of GOOD, marker of the position, severity, phrase)
    (
        "unknown-top-key",
        lambda t: t.replace("kind:", "kinds: x\nkind:"),
        "kinds",
        ERROR,
        "unknown key `kinds` (did you mean `kind`?)",
    ),
    (
        "unknown-entry-key",
        lambda t: t.replace("    category: utility", "    categry: utility"),
        "categry",
        ERROR,
        "unknown key `categry` (did you mean `category`?)",
    ),
    (
        "unknown-locale-key",
        lambda t: t.replace("        language: en_US", "        langage: en_US"),
        "langage",
        ERROR,
        "unknown key `langage` (did you mean `language`?)",
    ),
    (
        "unknown-purpose",
        lambda t: t.replace("  survey:", "  surveys:"),
        "surveys",
        ERROR,
        "unknown purpose `surveys` (did you mean `survey`?)",
    ),
    (
        "bad-version",
        lambda t: t.replace("version: 1", "version: 2"),
        "2",
        ERROR,
        "write `version: 1`",
    ),
    (
        "bad-kind",
        lambda t: t.replace("kind: whatsapp-templates", "kind: templates"),
        "templates\n",
        ERROR,
        "a template file says `kind: whatsapp-templates`",
    ),
    (
        "name-with-capitals",
        lambda t: t.replace("name: follow_up_survey", "name: Follow-Up"),
        "Follow-Up",
        ERROR,
        "`name:` is the template's name exactly as approved",
    ),
    (
        "name-too-long",
        lambda t: t.replace("name: follow_up_survey", "name: " + "a" * 513),
        "a" * 513,
        ERROR,
        "at most 512 characters",
    ),
    (
        "bad-category",
        lambda t: t.replace("category: utility", "category: service"),
        "service",
        ERROR,
        "`category:` must be utility, marketing, authentication",
    ),
    (
        "unknown-parameter",
        lambda t: t.replace("parameters: [name]", "parameters: [first_name]"),
        "first_name",
        ERROR,
        "unknown parameter `first_name`",
    ),
    (
        "fewer-placeholders-than-parameters",
        lambda t: t.replace("dari {{2}} sudah", "sudah"),
        '"Halo',
        ERROR,
        "the body has placeholders {{1}}, but `parameters:` names 2: use {{1}}, {{2}}",
    ),
    (
        "placeholders-not-from-1",
        lambda t: t.replace("Hi {{1}}, would", "Hi {{2}}, would"),
        '"Hi {{2}}, would',
        ERROR,
        "the body has placeholders {{2}}, but `parameters:` names 1: use {{1}}",
    ),
    (
        "placeholders-not-consecutive",
        lambda t: t.replace("lesson of {{2}}", "lesson of {{3}}"),
        '"Hi {{1}}, your',
        ERROR,
        "the body has placeholders {{1}}, {{3}}, but `parameters:` names 2: use {{1}}, {{2}}",
    ),
    (
        "named-placeholder",
        lambda t: t.replace("Hi {{1}}, would", "Hi {{name}}, would"),
        '"Hi {{name}}',
        ERROR,
        "`{{name}}` is not a placeholder WhatsApp fills",
    ),
    (
        "lesson-style-placeholder",
        lambda t: t.replace("Reply to start.", "Reply to start, {first_name}."),
        '"Hi {{1}}, would',
        ERROR,
        "`{first_name}` would be sent as typed",
    ),
    (
        "body-over-1024",
        lambda t: t.replace("Reply to start.", "Reply to start. " + "More words. " * 90),
        '"Hi {{1}}, would',
        ERROR,
        "WhatsApp takes at most 1024: shorten it",
    ),
    (
        "body-ends-with-a-placeholder",
        lambda t: t.replace("{{1}} Send /stop for no more news.", "{{1}}"),
        '"News from',
        ERROR,
        "WhatsApp does not approve a body that starts or ends with a placeholder",
    ),
    (
        "unknown-language-code",
        lambda t: t.replace("language: en_US", "language: en-US"),
        "en-US",
        ERROR,
        "`en-US` is not one of WhatsApp's template language codes; for `en` that is `en`",
    ),
    (
        "no-whatsapp-language-for-the-locale",
        lambda t: t.replace(
            "      id:\n        language: id", "      km:\n        language: km"
        ).replace("Halo {{1}}", "សួស្តី {{1}}"),
        "km\n",
        ERROR,
        "WhatsApp has no template language for `km`, so leave it out",
    ),
    (
        "language-of-another-locale",
        lambda t: t.replace("        language: id", "        language: ms"),
        "ms\n",
        ERROR,
        "`ms` is not the language of locale `id`",
    ),
]


@pytest.mark.parametrize("rule", RULES, ids=[r[0] for r in RULES])
def test_rule(tmp_path: Path, rule: tuple[str, Callable[[str], str], str, Severity, str]) -> None:
    _, edit, marker, severity, phrase = rule
    text = edit(GOOD)
    assert text != GOOD
    assert problems_of(tmp_path, GOOD) == []  # the control: the unedited file is clean
    got = one(problems_of(tmp_path, text), phrase)
    assert (got.line, got.col, got.severity) == (*at(text, marker), severity), str(got)


def test_a_locale_that_is_not_shipped_is_warned_about(tmp_path: Path) -> None:
    text = GOOD.replace("      id:\n", "      in:\n")
    found = problems_of(tmp_path, text, shipped=("en", "id"))
    got = one(found, "the bot ships no locale `in`")
    assert (got.line, got.col, got.severity) == (*at(text, "in:"), WARNING)
    assert got.message.endswith("Use one of en, id")


def test_each_shipped_locale_a_purpose_lacks_is_warned_about_but_not_km(tmp_path: Path) -> None:
    found = problems_of(tmp_path, GOOD, shipped=("en", "id", "km"))
    assert [d.message.split(":")[0] for d in found] == [
        "no `survey` template in `id`",
        "no `broadcast` template in `id`",
    ]
    survey = one(found, "no `survey` template in `id`")
    assert (survey.line, survey.col, survey.severity) == (*at(GOOD, "locales:", 1), WARNING)
    assert "language `id`" in survey.message
    assert not any("`km`" in d.message for d in found)  # WhatsApp has no Khmer templates


def test_a_purpose_with_no_template_at_all_is_warned_about(tmp_path: Path) -> None:
    text = GOOD[: GOOD.index("  broadcast:")]
    got = one(problems_of(tmp_path, text, shipped=("en",)), "no template for `broadcast`")
    assert (got.line, got.col, got.severity) == (*at(text, "templates:"), WARNING)


# -- lint reaches the file -----------------------------------------------------------------------


def test_lint_checks_the_file_and_its_folder_against_the_shipped_locales(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD.replace("category: utility", "category: service"))
    po = tmp_path / "locales" / "th" / "LC_MESSAGES" / "lessons.po"
    po.parent.mkdir(parents=True)
    po.write_text('msgid ""\nmsgstr ""\n"Language: th\\n"\n', encoding="utf-8")
    for target in (path, path.parent):
        found, _ = lint([str(target)])
        assert one(found, "`category:` must be").path == str(path)
        # Thai is shipped (locales/ beside templates/) and has none of the three templates.
        assert len([d for d in found if "template in `th`" in d.message]) == 3


def test_lint_of_the_repository_root_checks_its_templates(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD.replace("category: utility", "category: service"))
    found, _ = lint([str(tmp_path)])
    assert one(found, "`category:` must be").path == str(path)
    assert not [d for d in found if "course.yaml" in d.message]  # not taken for lessons


def test_lint_checks_a_broken_registry_named_like_the_shipped_one(tmp_path: Path) -> None:
    path = write(tmp_path, "templates: [unclosed\n")
    found, _ = lint([str(path)])
    assert len(found) == 1 and "YAML syntax error" in found[0].message


def test_the_shipped_registry_lints_clean() -> None:
    assert lint([str(SHIPPED)])[0] == []
    assert lint([str(SHIPPED.parent), str(ROOT / "locales")], str(ROOT / "lessons"))[0] == []


def test_a_body_of_one_locale_can_be_checked_in_isolation() -> None:
    """Every shipped body is short, honest about how to stop, and starts and ends with words."""
    templates, _ = load_templates(SHIPPED)
    for template in templates:
        assert len(template.body) <= BODY_CHARS
        assert "/stop" in template.body
        assert not template.body.startswith("{{") and not template.body.endswith("}}")
