"""The WhatsApp template registry: which approved template carries each message the bot starts.

Outside WhatsApp's 24-hour customer-service window only a template message approved in WhatsApp
Manager may be sent. `templates/whatsapp.yaml` lists, for each purpose a message can have
(`Proactive.purpose`: a reminder, the follow-up survey invitation, a broadcast), the template a
programme had approved, and its body in each of our locales. The sender looks a template up by
purpose and the learner's locale, fills its parameters and sends it; lint checks the file.

This module is data only: it imports no messaging library, so lint loads it in a moment. The
platform rules it applies are Meta's, checked on 2026-12-02 (`WHATSAPP_LANGUAGES` names its
pages; the others are cited where they are used).
"""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, get_args

from bot.channels.delivery import Purpose
from bot.content.diagnostics import Diagnostic
from bot.content.source import Path as DataPath
from bot.content.source import Source, read_file

KIND = "whatsapp-templates"  # the `kind:` of the file, as lessons say `kind: lesson`
PURPOSES: tuple[str, ...] = get_args(Purpose)
CATEGORIES = ("utility", "marketing", "authentication")
# What a `Proactive` message's values hold, and so what may fill a template's placeholders.
PARAMETERS = ("name", "course", "text")

# Meta's limits for a template (checked 2026-12-02): its name holds lowercase letters, digits and
# `_`, at most 512 characters; its body at most 1024 characters, and providers report that the
# limit holds for the body with its parameters filled in too (help.businesschat.io/en/articles/
# 6517829-template-messages, braze.com/docs/user_guide/channels/whatsapp/create_a_whatsapp_message/
# message_and_image_formats, docs.reply.la/en/templates/faqs). So a text parameter is cut to
# PARAMETER_CHARS, and the filled body is kept within BODY_CHARS.
NAME_CHARS = 512
BODY_CHARS = 1024
PARAMETER_CHARS = 1024

# The language codes WhatsApp takes for templates, from Meta's "Supported Languages" page
# (https://developers.facebook.com/documentation/business-messaging/whatsapp/templates/
# supported-languages, "Updated: May 21, 2026"; checked 2026-12-02). We could read that page
# from Afrikaans to Latvian; the rest is from its older version (https://developers.facebook.com/
# docs/whatsapp/api/messages/message-templates/#supported-languages). Meta adds regional codes
# from time to time: if lint refuses a code Meta lists, add it here. Khmer (`km`) is not in
# the list, nor is Burmese (`my`).
WHATSAPP_LANGUAGES = frozenset(
    {
        *("af", "sq", "ar", "ar_EG", "ar_AE", "ar_LB", "ar_MA", "ar_QA", "az", "be_BY"),
        *("bn", "bn_IN", "bg", "ca", "zh_CN", "zh_HK", "zh_TW", "hr", "cs", "da", "prs_AF"),
        *("nl", "nl_BE", "en", "en_GB", "en_US", "en_AE", "en_AU", "en_CA", "en_GH", "en_IE"),
        *("en_IN", "en_JM", "en_MY", "en_NZ", "en_QA", "en_SG", "en_UG", "en_ZA", "et", "fil"),
        *("fi", "fr", "fr_BE", "fr_CA", "fr_CH", "fr_CI", "fr_MA", "ka", "de", "de_AT", "de_CH"),
        *("el", "gu", "ha", "he", "hi", "hu", "id", "ga", "it", "ja", "kn", "kk", "rw_RW", "ko"),
        *("ky_KG", "lo", "lv", "lt", "mk", "ms", "ml", "mr", "nb", "fa", "pl", "pt_BR", "pt_PT"),
        *("pa", "ro", "ru", "sr", "sk", "sl", "es", "es_AR", "es_ES", "es_MX", "sw", "sv", "ta"),
        *("te", "th", "tr", "uk", "ur", "uz", "vi", "zu"),
    }
)

_NAME = re.compile(r"^[a-z0-9_]+$")
_PLACEHOLDER = re.compile(r"\{\{(.*?)\}\}")
_AT_END = re.compile(r"\{\{[^{}]*\}\}$")
_SINGLE_BRACES = re.compile(r"(?<!\{)\{[A-Za-z_][A-Za-z0-9_]*\}(?!\})")  # a lesson's `{first_name}`
# A parameter text must hold no newline or tab and no more than 4 spaces in a row, nor be empty
# (help.businesschat.io/en/articles/6517829-template-messages; twilio.com/docs/api/errors/63013
# lists the same refusals from Meta).
_LINE_BREAKS = re.compile(r"\s*[\n\r\v\f\x85\u2028\u2029]+\s*")
_SPACES = re.compile(r"[ \t\u00a0\u2000-\u200a\u202f\u205f\u3000]{2,}")
_CONTROLS = re.compile(r"[\x00-\x08\x0e-\x1f\x7f]")
SEPARATOR = " · "  # what a line break in a value becomes
_TOP_KEYS = ("version", "kind", "templates")
_ENTRY_KEYS = ("name", "category", "parameters", "locales")
_LOCALE_KEYS = ("language", "body")


class MissingValue(KeyError):
    """A template parameter with no value (or an empty one): `args[0]` is its name."""

    def __init__(self, name: str, template: str) -> None:
        super().__init__(name)
        self.template = template

    def __str__(self) -> str:
        return (
            f"template `{self.template}` needs a value for `{self.args[0]}`, and WhatsApp "
            "refuses an empty parameter"
        )


@dataclass(frozen=True)
class Template:
    purpose: str  # "reminder" | "survey" | "broadcast"
    name: str  # as approved in WhatsApp Manager
    category: str  # "utility" | "marketing" | "authentication"
    language: str  # WhatsApp's language code, e.g. "id", "en", "fil"
    parameters: tuple[str, ...]  # what fills {{1}}, {{2}}, ...
    body: str  # the approved text, with {{1}}... placeholders

    def fill(self, values: Mapping[str, str]) -> list[str]:
        """The parameter texts, in order, as Meta accepts them.

        A value that is missing or blank raises `MissingValue` (a KeyError naming it): an empty
        parameter is refused by Meta, and a message with a hole in it is not worth sending.
        Line breaks become " · ", tabs and runs of spaces one space, and a value is cut (with
        "…") to PARAMETER_CHARS, and further if the filled body would pass BODY_CHARS.
        """
        texts: list[str] = []
        for name in self.parameters:
            raw = values.get(name)
            text = conform(str(raw)) if raw is not None else ""
            if not text:
                raise MissingValue(name, self.name)
            texts.append(_cut(text, PARAMETER_CHARS))
        return _within(len(_PLACEHOLDER.sub("", self.body)), texts)

    def preview(self, values: Mapping[str, str]) -> str:
        """The body as the learner will read it, with `values` filled in as `fill` sends them."""
        texts = self.fill(values)
        return _PLACEHOLDER.sub(lambda m: texts[int(m.group(1)) - 1], self.body)


def conform(value: str) -> str:
    """`value` as a parameter text Meta accepts: one line, no tab, no run of spaces."""
    text = _CONTROLS.sub("", value).strip()
    text = _LINE_BREAKS.sub(SEPARATOR, text)
    return _SPACES.sub(" ", text)


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: max(limit - 1, 0)].rstrip() + "…"


def _within(fixed: int, texts: list[str]) -> list[str]:
    """`texts` shortened, longest first, until the body's `fixed` text and they fit BODY_CHARS."""
    texts = list(texts)
    while texts and fixed + sum(map(len, texts)) > BODY_CHARS:
        longest = max(range(len(texts)), key=lambda i: len(texts[i]))
        if len(texts[longest]) <= 1:
            break  # nothing left to cut; lint refuses such a body anyway
        excess = fixed + sum(map(len, texts)) - BODY_CHARS
        texts[longest] = _cut(texts[longest], max(len(texts[longest]) - excess, 1))
    return texts


class Templates:
    """The approved templates, by purpose and by our locale."""

    def __init__(self, entries: Mapping[tuple[str, str], Template] | None = None) -> None:
        self._entries: dict[tuple[str, str], Template] = dict(entries or {})  # (purpose, locale)

    def find(self, purpose: str, locale: str) -> Template | None:
        """The template for `purpose` in `locale` (`fil_PH` finds `fil`); None if there is none:
        a learner is never sent a template in another language than their own."""
        code = locale.replace("-", "_")
        for candidate in dict.fromkeys((code, code.split("_")[0].lower())):
            found = self._entries.get((purpose, candidate))
            if found is not None:
                return found
        return None

    def for_purpose(self, purpose: str) -> list[Template]:
        """Every language's template for `purpose`, in the file's order."""
        return [t for (p, _), t in self._entries.items() if p == purpose]

    def locales(self, purpose: str) -> list[str]:
        """Our locales that have a template for `purpose`."""
        return [loc for (p, loc) in self._entries if p == purpose]

    def __iter__(self) -> Iterator[Template]:
        return iter(self._entries.values())

    def __len__(self) -> int:
        return len(self._entries)

    def __bool__(self) -> bool:
        return bool(self._entries)

    def __repr__(self) -> str:
        return f"Templates({sorted(self._entries)})"


def whatsapp_language(locale: str) -> str | None:
    """The WhatsApp template language for one of our locales, or None if WhatsApp has none."""
    if locale in WHATSAPP_LANGUAGES:
        return locale
    regional = sorted(c for c in WHATSAPP_LANGUAGES if c.split("_")[0] == locale)
    return regional[0] if regional else None


def load_templates(
    path: str | os.PathLike[str], *, shipped: Collection[str] | None = None
) -> tuple[Templates, list[Diagnostic]]:
    """The registry in `path`, and its problems as `path:line:col` diagnostics with the fix.

    A missing file is an empty registry and no problem (a deployment without WhatsApp). Broken
    entries are reported and left out; the valid ones are kept. With `shipped` (the locales the
    bot ships), lint also warns about templates for other locales and about shipped locales a
    purpose has no template for (where WhatsApp has a template language for them).
    """
    if not os.path.lexists(path):
        return Templates(), []
    src = read_file(path)
    entries: dict[tuple[str, str], Template] = {}
    if src.data is None:  # unreadable; its one error says why
        return Templates(), src.problems
    data = src.data
    if not isinstance(data, dict):
        src.error(src.place_of(()), f"start the file with `version: 1`, `kind: {KIND}`")
        return Templates(), src.problems
    _unknown_keys(src, (), data, _TOP_KEYS)
    if data.get("version") != 1:
        src.error(
            src.place_of(("version",)),
            "this LessonBot reads template files of `version: 1`; write `version: 1`",
        )
    if data.get("kind") != KIND:
        src.error(src.place_of(("kind",)), f"a template file says `kind: {KIND}`")
    templates = data.get("templates")
    if not isinstance(templates, dict):
        src.error(
            src.place_of(("templates",)),
            "`templates:` must list the purposes (" + ", ".join(PURPOSES) + "), each with its "
            "name, category, parameters and locales",
        )
        return Templates(), src.problems
    for purpose, entry in templates.items():
        at: DataPath = ("templates", purpose)
        if purpose not in PURPOSES:
            src.error(
                src.place_of(at, key=True),
                f"unknown purpose `{purpose}`{_suggest(str(purpose), PURPOSES)}; the bot sends "
                "templates for " + ", ".join(PURPOSES),
            )
            continue
        for locale, template in _entry(src, at, purpose, entry, shipped):
            entries[(purpose, locale)] = template
    if shipped is not None:
        _missing(src, templates, entries, shipped)
    return Templates(entries), src.problems


def _entry(
    src: Source, at: DataPath, purpose: str, entry: Any, shipped: Collection[str] | None
) -> Iterator[tuple[str, Template]]:
    if not isinstance(entry, dict):
        src.error(
            src.place_of(at), "give this purpose `name:`, `category:`, `parameters:`, `locales:`"
        )
        return
    _unknown_keys(src, at, entry, _ENTRY_KEYS)
    ok = _check_name(src, at, entry.get("name"))
    ok = _check_category(src, at, entry.get("category")) and ok
    parameters = _check_parameters(src, at, entry.get("parameters"))
    locales = entry.get("locales")
    if not isinstance(locales, dict) or not locales:
        src.error(
            src.place_of((*at, "locales")),
            "`locales:` must give, for each of our locales, the WhatsApp `language:` code and "
            "the approved `body:`",
        )
        return
    for locale, text in locales.items():
        where: DataPath = (*at, "locales", locale)
        if shipped is not None and locale not in shipped:
            src.warning(
                src.place_of(where, key=True),
                f"the bot ships no locale `{locale}`{_suggest(str(locale), sorted(shipped))}; "
                "learners never get this template. Use one of " + ", ".join(sorted(shipped)),
            )
        body = _check_locale(src, where, str(locale), text, parameters)
        if ok and parameters is not None and body is not None:
            yield (
                str(locale),
                Template(purpose, entry["name"], entry["category"], body[0], parameters, body[1]),
            )


def _check_name(src: Source, at: DataPath, name: Any) -> bool:
    if not isinstance(name, str) or not _NAME.match(name) or len(name) > NAME_CHARS:
        src.error(
            src.place_of((*at, "name")),
            "`name:` is the template's name exactly as approved in WhatsApp Manager: lowercase "
            f"letters, digits and `_`, at most {NAME_CHARS} characters, like `lesson_reminder`",
        )
        return False
    return True


def _check_category(src: Source, at: DataPath, category: Any) -> bool:
    if category not in CATEGORIES:
        src.error(
            src.place_of((*at, "category")),
            f"`category:` must be {', '.join(CATEGORIES)}: the category WhatsApp Manager shows "
            "for the template (Meta may change it, and bills by it)",
        )
        return False
    return True


def _check_parameters(src: Source, at: DataPath, parameters: Any) -> tuple[str, ...] | None:
    if parameters is None:
        return ()
    if not isinstance(parameters, list):
        src.error(
            src.place_of((*at, "parameters")),
            "`parameters:` lists what fills {{1}}, {{2}}… in order, like [name, course]",
        )
        return None
    found: list[str] = []
    for i, name in enumerate(parameters):
        if name not in PARAMETERS:
            src.error(
                src.place_of((*at, "parameters", i)),
                f"unknown parameter `{name}`{_suggest(str(name), PARAMETERS)}; a template can be "
                "filled with " + ", ".join(PARAMETERS),
            )
        elif name in found:
            src.error(src.place_of((*at, "parameters", i)), f"`{name}` is listed twice")
        else:
            found.append(name)
    return tuple(found) if len(found) == len(parameters) else None


def _check_locale(
    src: Source, at: DataPath, locale: str, text: Any, parameters: tuple[str, ...] | None
) -> tuple[str, str] | None:
    """(WhatsApp language, body) of one locale's template, if they are fine."""
    if not isinstance(text, dict):
        src.error(src.place_of(at), "give `language:` (WhatsApp's code) and `body:`")
        return None
    _unknown_keys(src, at, text, _LOCALE_KEYS)
    language, body = text.get("language"), text.get("body")
    ok = True
    if language not in WHATSAPP_LANGUAGES:
        known = whatsapp_language(locale)
        hint = (
            f"for `{locale}` that is `{known}`"
            if known
            else f"WhatsApp has no template language for `{locale}`, so leave it out"
        )
        said = (
            "`language:` is missing"
            if language is None
            else f"`{language}` is not one of WhatsApp's template language codes"
        )
        src.error(src.place_of((*at, "language")), f"{said}; {hint}")
        ok = False
    elif str(language).split("_")[0] != locale.split("_")[0]:
        src.error(
            src.place_of((*at, "language")),
            f"`{language}` is not the language of locale `{locale}`; a learner in `{locale}` "
            "must get the template in their own language",
        )
        ok = False
    if not isinstance(body, str) or not body.strip():
        src.error(src.place_of((*at, "body")), "`body:` is the approved text, with {{1}}…")
        return None
    ok = _check_body(src, (*at, "body"), body, parameters) and ok
    return (str(language), body) if ok else None


def _check_body(src: Source, at: DataPath, body: str, parameters: tuple[str, ...] | None) -> bool:
    place = src.place_of(at)
    problems: list[str] = []
    if len(body) > BODY_CHARS:
        problems.append(
            f"the body is {len(body)} characters; WhatsApp takes at most {BODY_CHARS}: shorten it"
        )
    marks = [m.group(1) for m in _PLACEHOLDER.finditer(body)]
    bad = [m for m in marks if not m.isdigit() or m != str(int(m))]
    if bad:
        problems.append(
            f"`{{{{{bad[0]}}}}}` is not a placeholder WhatsApp fills; write {{{{1}}}}, {{{{2}}}}…"
        )
    if (single := _SINGLE_BRACES.search(body)) is not None:
        problems.append(
            f"`{single.group()}` would be sent as typed; WhatsApp fills {{{{1}}}}, {{{{2}}}}… "
            "with the `parameters:` in order"
        )
    numbers = sorted({int(m) for m in marks if m not in bad})
    if parameters is not None and not bad:
        wanted = list(range(1, len(parameters) + 1))
        if numbers != wanted:
            got = ", ".join(f"{{{{{n}}}}}" for n in numbers) or "none"
            want = ", ".join(f"{{{{{n}}}}}" for n in wanted) or "none"
            problems.append(
                f"the body has placeholders {got}, but `parameters:` names {len(parameters)}: "
                f"use {want}, each for the parameter in that place, numbered from {{{{1}}}}"
            )
    stripped = body.strip()
    if marks and (_PLACEHOLDER.match(stripped) or _AT_END.search(stripped)):
        # "Because placeholders can resolve to many words, WhatsApp does not allow a placeholder
        # at the beginning or end" (twilio.com/docs/whatsapp/tutorial/
        # message-template-approvals-statuses).
        problems.append(
            "WhatsApp does not approve a body that starts or ends with a placeholder; put "
            "words before and after it"
        )
    for problem in problems:
        src.error(place, problem)
    return not problems


def _missing(
    src: Source,
    templates: dict[str, Any],
    entries: Mapping[tuple[str, str], Template],
    shipped: Collection[str],
) -> None:
    """A warning for each shipped locale a purpose has no template for (that WhatsApp could
    have: for a locale without a WhatsApp template language there is nothing to add)."""
    possible = sorted(loc for loc in shipped if whatsapp_language(loc))
    for purpose in PURPOSES:
        if purpose not in templates:
            src.warning(
                src.place_of(("templates",), key=True),
                f"no template for `{purpose}`: on WhatsApp, learners whose 24 h window has "
                f"closed get no {purpose}. Add `{purpose}:` with a template approved in "
                "WhatsApp Manager",
            )
            continue
        declared = templates[purpose].get("locales") if isinstance(templates[purpose], dict) else {}
        for locale in possible:
            if isinstance(declared, dict) and locale in declared:
                continue  # there, or broken and reported where it is
            if (purpose, locale) in entries:
                continue
            src.warning(
                src.place_of(("templates", purpose, "locales"), key=True),
                f"no `{purpose}` template in `{locale}`: learners in `{locale}` whose 24 h "
                f"window has closed get no {purpose} on WhatsApp. Have one approved in "
                f"WhatsApp Manager (language `{whatsapp_language(locale)}`) and add it here",
            )


def _unknown_keys(src: Source, at: DataPath, data: dict[str, Any], known: tuple[str, ...]) -> None:
    for key in data:
        if key not in known:
            src.error(
                src.place_of((*at, key), key=True),
                f"unknown key `{key}`{_suggest(str(key), known)}; here the keys are "
                + ", ".join(f"`{k}`" for k in known),
            )


def _suggest(word: str, choices: Collection[str]) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean `{close[0]}`?)" if close else ""
