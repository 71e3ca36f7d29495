"""The lesson format, version 1, as immutable pydantic models.

The models are the single source of truth for the format: the loader validates with them and
`lessonbot schema` prints their JSON Schema for editors. `docs/lesson-format.md` explains them to
authors.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

FORMAT_VERSION = 1

Id = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]{0,31}$")]
FieldName = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,31}$")]
Text = Annotated[str, StringConstraints(min_length=1)]
Country = Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")]
# A learner-field condition: `country: ID` or `country: [ID, MY]`.
Condition = dict[FieldName, str | list[str]]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Option(_Model):
    id: Id
    text: Text
    feedback: Text | None = None


class ChoiceOption(_Model):
    id: Id
    text: Text
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
    for model in (Option, ChoiceOption, Scale, MessageStep, QuestionStep, ChoiceStep, InputStep,
                  SurveyStep, EndStep, Lesson, Course, Scheme, SchemeFile):
        for name, info in model.model_fields.items():
            keys.add(info.alias or name)
    return keys


def json_schema(*extra: type[BaseModel]) -> dict[str, Any]:
    """A JSON Schema accepting a course, lesson or schemes file (or one of `extra`)."""
    models: list[type[BaseModel]] = [Course, Lesson, SchemeFile, *extra]
    parts = [m.model_json_schema(by_alias=True) for m in models]
    defs = {k: v for part in parts for k, v in part.pop("$defs", {}).items()}
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": f"LessonBot content file, format version {FORMAT_VERSION}",
        "oneOf": parts,
        "$defs": defs,
    }


class Scheme(_Model):
    """A real government programme. Every entry names its official source and check date."""

    id: Id
    name: Text
    agency: Text
    url: Annotated[str, StringConstraints(pattern=r"^https://")] = Field(
        description="The official site of the programme or agency.")
    summary: Text
    who: Text
    how: Text
    status: Literal["current", "ended", "uncertain"]
    last_verified: date = Field(description="When someone last checked the source, YYYY-MM-DD.")
    source: Annotated[str, StringConstraints(pattern=r"^https?://")] = Field(
        description="The page that confirms this entry.")


class SchemeFile(_Model):
    version: Literal[1]
    kind: Literal["schemes"]
    country: Country
    schemes: tuple[Scheme, ...] = Field(min_length=1)
