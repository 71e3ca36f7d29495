"""The lesson format, version 1, as immutable pydantic models.

The models are the single source of truth for the format: the loader validates with them and
`lessonbot schema` prints their JSON Schema for editors. `docs/lesson-format.md` explains them to
authors.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

FORMAT_VERSION = 1

Id = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]{0,31}$")]
FieldName = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,31}$")]
Text = Annotated[str, StringConstraints(min_length=1)]
Country = Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")]
# A learner-field condition: `country: ID` or `country: [ID, MY]`.
Condition = dict[FieldName, str | list[str]]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


# A button's words. Lint checks them against each channel's limits (WhatsApp's buttons hold 20)
# and refuses past 40 (Telegram starts cutting); a longer answer goes in the option's `text`.
Label = Annotated[str, StringConstraints(min_length=1)]
_LABEL = "The button's words, up to 20 characters."
_ANSWER = (
    "The whole answer, when the label is a short form of it: the message then lists every "
    "option's text, numbered, above the buttons."
)


class Option(_Model):
    id: Id
    label: Label = Field(description=_LABEL)
    text: Text | None = Field(None, description=_ANSWER)
    feedback: Text | None = None


class ChoiceOption(_Model):
    id: Id
    label: Label = Field(description=_LABEL)
    text: Text | None = Field(None, description=_ANSWER)
    next: Id | None = Field(None, description="Step of this lesson to go to.")
    lesson: str | None = Field(
        None, description="Lesson to open instead: `lesson-id` or `course-id/lesson-id`."
    )


class Scale(_Model):
    min: int = 1
    max: int = 5


class _Step(_Model):
    id: Id = Field(description="Stable id. Progress, analytics and translations refer to it.")
    text: Text
    when: Condition | None = Field(None, description="Show only to learners whose fields match.")
    next: Id | None = Field(None, description="Step to go to afterwards (default: the next one).")


class MessageStep(_Step):
    type: Literal["message"]
    image: str | None = None
    document: str | None = None
    button: Text | None = None


class QuestionStep(_Step):
    type: Literal["question"]
    options: tuple[Option, ...] = Field(min_length=2, max_length=8)
    correct: Id
    feedback: Text | None = None
    retry: bool = True


class ChoiceStep(_Step):
    type: Literal["choice"]
    options: tuple[ChoiceOption, ...] = Field(min_length=1, max_length=8)


class InputStep(_Step):
    type: Literal["input"]
    field: FieldName
    check: Literal["text", "number", "phone", "one_of"] = Field("text", alias="validate")
    choices: tuple[Text, ...] | None = None
    error: Text | None = None


class SurveyStep(_Step):
    type: Literal["survey"]
    kind: Literal["choice", "scale", "text"]
    options: tuple[Option, ...] | None = None
    scale: Scale | None = None


class EndStep(_Step):
    type: Literal["end"]


Step = Annotated[
    MessageStep | QuestionStep | ChoiceStep | InputStep | SurveyStep | EndStep,
    Field(discriminator="type"),
]


class Lesson(_Model):
    version: Literal[1]
    kind: Literal["lesson"]
    id: Id
    title: Text
    minutes: int = Field(ge=1, le=30)
    steps: tuple[Step, ...] = Field(min_length=1)


class Course(_Model):
    version: Literal[1]
    kind: Literal["course"]
    id: Id
    title: Text
    description: Text
    source_locale: str = "en"
    countries: tuple[Country, ...] = ()
    # false: not in the course menu, /progress or certificates; reached only by a link or an
    # invitation (the follow-up survey).
    listed: bool = True
    lessons: tuple[Id, ...] = Field(min_length=1)


def known_keys() -> set[str]:
    """Every key the format knows, for "did you mean" suggestions."""
    keys: set[str] = set()
    for model in (
        Option,
        ChoiceOption,
        Scale,
        MessageStep,
        QuestionStep,
        ChoiceStep,
        InputStep,
        SurveyStep,
        EndStep,
        Lesson,
        Course,
        Scheme,
        SchemeFile,
        Hotline,
        HotlineFile,
    ):
        for name, info in model.model_fields.items():
            keys.add(info.alias or name)
    return keys


def json_schema(*extra: type[BaseModel]) -> dict[str, Any]:
    """A JSON Schema accepting a course, lesson or schemes file (or one of `extra`).

    Plain JSON Schema 2020-12, for any validator (editors, check-jsonschema, ajv in strict mode):
    each file `kind` and each step `type` is one `if`/`then` branch, so an error is reported
    against the branch the file chose rather than as a list of every branch's failures. It
    checks structure only; what else `lessonbot lint` checks is in docs/lesson-format.md.
    """
    models: list[type[BaseModel]] = [Course, Lesson, SchemeFile, HotlineFile, *extra]
    defs: dict[str, Any] = {}
    kinds: dict[str, str] = {}
    for model in models:
        part = model.model_json_schema(by_alias=True)
        defs.update(part.pop("$defs", {}))
        defs[model.__name__] = part
        kinds[part["properties"]["kind"]["const"]] = f"#/$defs/{model.__name__}"
    schema = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": f"LessonBot content file, format version {FORMAT_VERSION}",
        **_branches("kind", kinds, "What this file is."),
        "$defs": defs,
    }
    return _plain(schema)


def _branches(key: str, refs: dict[str, str], description: str | None = None) -> dict[str, Any]:
    """An object whose `key` picks the schema it must match: one `if`/`then` per value."""
    choice: dict[str, Any] = {"enum": list(refs)}
    if description:
        choice["description"] = description
    return {
        "type": "object",
        "required": [key],
        "properties": {key: choice},
        "allOf": [
            {
                "if": {"properties": {key: {"const": value}}, "required": [key]},
                "then": {"$ref": ref},
            }
            for value, ref in refs.items()
        ],
    }


# Pydantic reads these from strings that JSON Schema's `format`s refuse (`09:00` is no RFC 3339
# time), so the schema says what the bot accepts instead. A date-time must carry its UTC offset
# (the one there is, a broadcast's `at:`, is refused without it).
_TIME = r"([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9](\.[0-9]{1,6})?)?"
_OFFSET = r"(Z|z|[+-]([01][0-9]|2[0-3]):?[0-5][0-9])"
_FORMATS = {
    "time": {"pattern": f"^{_TIME}{_OFFSET}?$"},
    "date-time": {"pattern": f"^[0-9]{{4}}-[0-9]{{2}}-[0-9]{{2}}[Tt ]{_TIME}{_OFFSET}$"},
}
_JSON_TYPES = {bool: "boolean", int: "integer", float: "number", str: "string"}
_NAMED = ("properties", "patternProperties", "$defs")  # name -> schema maps
_VALUES = ("default", "const", "enum", "examples")  # data, not schemas


def _plain(schema: dict[str, Any]) -> dict[str, Any]:
    """Pydantic's schema without its OpenAPI extras: discriminators become `if`/`then`."""
    node = dict(schema)
    discriminator = node.pop("discriminator", None)
    if discriminator is not None:
        order = [member["$ref"] for member in node.pop("oneOf")]
        refs = sorted(discriminator["mapping"].items(), key=lambda item: order.index(item[1]))
        node.update(_branches(discriminator["propertyName"], dict(refs)))
    if isinstance(node.get("format"), str) and node["format"] in _FORMATS:
        node.update(_FORMATS[node.pop("format")])
    # Older pydantic spells two things differently; keep the schema the same on every version
    # we support: a `const` without its `type`, and a described reference as a one-item allOf.
    if "const" in node and "type" not in node:
        node["type"] = _JSON_TYPES[type(node["const"])]
    if len(node.get("allOf", ())) == 1 and set(node["allOf"][0]) == {"$ref"} and "$ref" not in node:
        node = {
            ("$ref" if k == "allOf" else k): (v[0]["$ref"] if k == "allOf" else v)
            for k, v in node.items()
        }  # in its place, so the key order is the same too
    plain: dict[str, Any] = {}
    for key, value in node.items():
        if key in _NAMED:
            plain[key] = {name: _plain(sub) for name, sub in value.items()}
        elif key in _VALUES:
            plain[key] = value
        elif isinstance(value, dict):
            plain[key] = _plain(value)
        elif isinstance(value, list):
            plain[key] = [_plain(item) if isinstance(item, dict) else item for item in value]
        else:
            plain[key] = value
    return plain


HttpsUrl = Annotated[str, StringConstraints(pattern=r"^https://")]


class _Checked(_Model):
    """An entry about a real programme or service: learners act on it, so it names the official
    site, the page that confirms it and when someone last checked that page."""

    id: Id
    name: Text
    agency: Text
    url: HttpsUrl = Field(description="The official site of the programme, service or agency.")
    last_verified: date = Field(description="When someone last checked the source, YYYY-MM-DD.")
    source: Annotated[str, StringConstraints(pattern=r"^https?://")] = Field(
        description="The official page that confirms this entry."
    )


class Scheme(_Checked):
    """A real government programme, shown as a short card with a Details button."""

    summary: Text = Field(description="What it is, in about two sentences: the card's text.")
    details: Text | None = Field(None, description="The rest, shown after Details.")
    who: Text
    how: Text
    status: Literal["current", "ended", "uncertain"]


class SchemeFile(_Model):
    version: Literal[1]
    kind: Literal["schemes"]
    country: Country
    schemes: tuple[Scheme, ...] = Field(min_length=1)


class Hotline(_Checked):
    """A national line for reporting a scam or getting help: /scammed lists them."""

    phone: Annotated[str, StringConstraints(pattern=r"^\+?[0-9][0-9 -]{1,19}$")] | None = Field(
        None, description="The number as a learner dials it; none when the site is the way."
    )
    use: Text = Field(description="When to use it, in a sentence or two.")


class HotlineFile(_Model):
    version: Literal[1]
    kind: Literal["hotlines"]
    country: Country
    hotlines: tuple[Hotline, ...] = ()
    advice: Text | None = Field(
        None, description="Shown after the lines, or instead of them where none is safe to list."
    )

    @model_validator(mode="after")
    def _says_something(self) -> HotlineFile:
        if not self.hotlines and self.advice is None:
            raise ValueError("list at least one line in `hotlines:`, or give `advice:`")
        return self
