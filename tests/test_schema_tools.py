"""docs/lesson.schema.json with the tools authors and CI use: check-jsonschema, ajv, editors.

Every shipped content file must pass, and broken copies (each with one structural fault that
`lessonbot lint` also reports) must fail with the best-match error at the faulty field. ajv runs
through `tests/ajv_check.cjs` when Node and the packages are installed (see `NODE_PREFIX`); the
tests that need a tool are skipped without it, unless `REQUIRE_SCHEMA_TOOLS` is set (CI), when
they fail instead.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

import pytest

from bot.broadcast.message import BroadcastFile
from bot.content.model import json_schema
from bot.content.source import read_source
from bot.lint import lint_paths

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = ROOT / "docs" / "lesson.schema.json"
MODELINE = "# yaml-language-server: $schema="
SHIPPED = sorted([*ROOT.glob("lessons/**/*.yaml"), *ROOT.glob("broadcasts/*.yaml")])
# Where `npm install --prefix <it> ajv@8 ajv-formats@3 yaml@2` put ajv.
NODE_PREFIX = Path(os.environ.get("NODE_PREFIX", ROOT / ".ci" / "node"))
AJV_CHECK = ROOT / "tests" / "ajv_check.cjs"
YLS_CHECK = ROOT / "tests" / "yls_check.cjs"
REQUIRED = bool(os.environ.get("REQUIRE_SCHEMA_TOOLS"))

JsonPath = tuple[str | int, ...]


def _missing(reason: str) -> NoReturn:
    if REQUIRED:
        pytest.fail(f"{reason}, and REQUIRE_SCHEMA_TOOLS is set")
    pytest.skip(reason)


# -- the schema file itself ------------------------------------------------------------------


def test_committed_schema_is_the_generated_one() -> None:
    generated = json.dumps(json_schema(BroadcastFile), indent=2) + "\n"
    assert SCHEMA.read_text(encoding="utf-8") == generated, (
        "run `lessonbot schema > docs/lesson.schema.json`"
    )


# Keywords that mean the same in draft 7 (what the YAML extension validates with) and 2020-12
# (what the schema declares), so every tool reads the schema alike. `$defs` is reached by JSON
# pointer, which draft-7 tools follow too.
_PORTABLE = {
    "$schema",
    "$defs",
    "$ref",
    "title",
    "description",
    "default",
    "type",
    "enum",
    "const",
    "properties",
    "patternProperties",
    "additionalProperties",
    "required",
    "minProperties",
    "items",
    "minItems",
    "maxItems",
    "minLength",
    "pattern",
    "format",
    "minimum",
    "maximum",
    "anyOf",
    "allOf",
    "if",
    "then",
}


def _keywords(node: Any) -> set[str]:
    if isinstance(node, list):
        return set().union(*map(_keywords, node)) if node else set()
    if not isinstance(node, dict):
        return set()
    found = set(node)
    for key, value in node.items():
        if key in ("properties", "patternProperties", "$defs"):  # names, not keywords
            found |= set().union(*map(_keywords, value.values())) if value else set()
        elif key not in ("enum", "const", "default", "required"):
            found |= _keywords(value)
    return found


def test_schema_is_plain_and_portable_json_schema() -> None:
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert _keywords(schema) - _PORTABLE == set()  # no `discriminator`, `oneOf`, ...
    kinds = ["course", "lesson", "schemes", "hotlines", "broadcast"]
    assert schema["properties"]["kind"]["enum"] == kinds
    branches = {b["if"]["properties"]["kind"]["const"]: b["then"]["$ref"] for b in schema["allOf"]}
    assert branches == {
        "course": "#/$defs/Course",
        "lesson": "#/$defs/Lesson",
        "schemes": "#/$defs/SchemeFile",
        "hotlines": "#/$defs/HotlineFile",
        "broadcast": "#/$defs/BroadcastFile",
    }
    steps = schema["$defs"]["Lesson"]["properties"]["steps"]["items"]
    assert [b["if"]["properties"]["type"]["const"] for b in steps["allOf"]] == [
        "message",
        "question",
        "choice",
        "input",
        "survey",
        "end",
    ]


def test_every_content_file_names_the_schema() -> None:
    assert len(SHIPPED) > 20
    assert any(p.parent.name == "schemes" for p in SHIPPED)
    assert any(p.parent.name == "hotlines" for p in SHIPPED)
    for path in SHIPPED:
        first = path.read_text(encoding="utf-8").splitlines()[0]
        assert first.startswith(MODELINE), f"{path}: first line should be the schema line"
        assert (path.parent / first.removeprefix(MODELINE)).resolve() == SCHEMA, path


def test_vscode_settings_map_the_schema_and_read_yaml_1_1() -> None:
    settings = json.loads((ROOT / ".vscode" / "settings.json").read_text(encoding="utf-8"))
    assert settings["yaml.yamlVersion"] == "1.1"  # `Yes` is true, as the bot reads it
    [(schema, globs)] = settings["yaml.schemas"].items()
    assert (ROOT / schema).resolve() == SCHEMA
    assert sorted({p for glob in globs for p in ROOT.glob(glob)}) == SHIPPED


# -- broken copies -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Broken:
    """`source` with its first `old` replaced by `new`: one structural fault."""

    name: str
    source: str
    old: str
    new: str
    at: JsonPath  # where the best-match error is
    field: str  # the key it names: the last part of `at`, or the one unknown or missing
    lint: str  # what `lessonbot lint` says about the same fault
    yaml_1_1: bool = False  # a fault only a YAML 1.1 reader sees (check-jsonschema reads 1.2)


LESSON = "lessons/online-safety/01-spot-the-scam.yaml"
COURSE = "lessons/online-safety/course.yaml"
SCHEMES = "lessons/relief/schemes/my.yaml"
BROADCAST = "broadcasts/scam-alert-fake-grant.yaml"

BROKEN = [
    Broken(
        "wrong-kind",
        LESSON,
        "kind: lesson",
        "kind: lessn",
        ("kind",),
        "kind",
        "`kind` must be 'lesson'",
    ),
    Broken(
        "unknown-step-type",
        LESSON,
        "type: message",
        "type: mesage",
        ("steps", 0, "type"),
        "type",
        "unknown step type `mesage`",
    ),
    Broken(
        "unknown-key-in-step",
        LESSON,
        "    type: message\n",
        "    type: message\n    buton: Next\n",
        ("steps", 0),
        "buton",
        "unknown key `buton` (did you mean `button`?)",
    ),
    Broken(
        "unknown-key-in-course",
        COURSE,
        "title:",
        "titel: Typo\ntitle:",
        (),
        "titel",
        "unknown key `titel` (did you mean `title`?)",
    ),
    Broken(
        "missing-field-in-step",
        LESSON,
        "    correct:",
        "    # correct:",
        ("steps", 3),
        "correct",
        "missing required key `correct:`",
    ),
    Broken(
        "missing-top-level-field",
        LESSON,
        "\nminutes:",
        "\n# minutes:",
        (),
        "minutes",
        "missing required key `minutes:`",
    ),
    Broken(
        "wrong-type",
        LESSON,
        "\nminutes: ",
        "\nminutes: five  # ",
        ("minutes",),
        "minutes",
        "`minutes`: Input should be a valid integer",
    ),
    Broken(
        "wrong-type-read-as-bool",
        LESSON,
        "    button: ",
        "    button: Yes  # ",
        ("steps", 0, "button"),
        "button",
        "`button`: Input should be a valid string",
        yaml_1_1=True,
    ),
    Broken(
        "scheme-unknown-status",
        SCHEMES,
        "status: current",
        "status: active",
        ("schemes", 0, "status"),
        "status",
        "`status` must be",
    ),
    Broken(
        "scheme-missing-source",
        SCHEMES,
        "    source:",
        "    # source:",
        ("schemes", 0),
        "source",
        "missing required key `source:`",
    ),
    Broken(
        "scheme-bad-country",
        SCHEMES,
        "country: MY",
        "country: my",
        ("country",),
        "country",
        "`my` is not valid here",
    ),
    Broken(
        "broadcast-wrong-type",
        BROADCAST,
        "urgent: false",
        "urgent: soon",
        ("urgent",),
        "urgent",
        "`urgent`: Input should be a valid boolean",
    ),
]


def _names(case: Broken, message: str) -> bool:
    """Whether a jsonschema error at `case.at` names `case.field`, by its path or its message."""
    return case.at[-1:] == (case.field,) or message in (
        f"'{case.field}' is a required property",
        f"Additional properties are not allowed ('{case.field}' was unexpected)",
    )


@pytest.fixture(scope="module")
def broken_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of lessons/ and broadcasts/ per case, with that case's fault."""
    root = tmp_path_factory.mktemp("broken")
    for case in BROKEN:
        copy = root / case.name
        shutil.copytree(ROOT / "lessons", copy / "lessons")
        shutil.copytree(ROOT / "broadcasts", copy / "broadcasts")
        (copy / "docs").mkdir()
        shutil.copy(SCHEMA, copy / "docs")  # where each file's schema line points
        target = copy / case.source
        text = target.read_text(encoding="utf-8")
        assert case.old in text, f"{case.name}: `{case.old}` is no longer in {case.source}"
        target.write_text(text.replace(case.old, case.new, 1), encoding="utf-8")
    return root


def _broken_file(root: Path, case: Broken) -> Path:
    return root / case.name / case.source


@pytest.mark.parametrize("case", BROKEN, ids=lambda c: c.name)
def test_lint_rejects_the_broken_copy(broken_dir: Path, case: Broken) -> None:
    path = _broken_file(broken_dir, case)
    problems = lint_paths([str(path)], str(broken_dir / case.name / "lessons"))
    errors = [p.message for p in problems if p.severity == "error"]
    assert any(case.lint in message for message in errors), errors


@pytest.mark.parametrize("case", BROKEN, ids=lambda c: c.name)
def test_best_match_names_the_faulty_field(broken_dir: Path, case: Broken) -> None:
    """What a validator reports first (jsonschema's best match) is the field at fault."""
    try:
        import jsonschema  # check-jsonschema's validator
    except ImportError:
        _missing("jsonschema is not installed (pip install check-jsonschema)")
    validator = jsonschema.Draft202012Validator(json.loads(SCHEMA.read_text(encoding="utf-8")))
    path = _broken_file(broken_dir, case)
    data = read_source(str(path), path.read_bytes()).data  # read as the bot reads it: YAML 1.1
    best = jsonschema.exceptions.best_match(validator.iter_errors(data))
    assert best is not None
    assert tuple(best.absolute_path) == case.at, best.message
    # Not "matches no branch" about a whole step or file (a nullable field is an `anyOf`).
    assert best.validator != "oneOf", best.message
    assert _names(case, best.message), best.message


# -- check-jsonschema ----------------------------------------------------------------------------


def _check_jsonschema(files: list[Path]) -> dict[str, Any]:
    try:
        import check_jsonschema  # noqa: F401
    except ImportError:
        _missing("check-jsonschema is not installed (pip install check-jsonschema)")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "check_jsonschema",
            "--schemafile",
            str(SCHEMA),
            "-o",
            "json",
            *map(str, files),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode in (0, 1), done.stderr
    result: dict[str, Any] = json.loads(done.stdout)
    assert result.get("parse_errors", []) == [], result["parse_errors"]
    return result


def _json_path(at: JsonPath) -> str:
    return "$" + "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in at)


def test_check_jsonschema_accepts_every_shipped_file() -> None:
    result = _check_jsonschema(SHIPPED)
    assert result["status"] == "ok", result["errors"]


def test_check_jsonschema_rejects_the_broken_copies(broken_dir: Path) -> None:
    cases = [case for case in BROKEN if not case.yaml_1_1]
    result = _check_jsonschema([_broken_file(broken_dir, case) for case in cases])
    by_file: dict[str, list[dict[str, Any]]] = {}
    for error in result["errors"]:
        by_file.setdefault(error["filename"], []).append(error)
    for case in cases:
        errors = by_file.get(str(_broken_file(broken_dir, case)), [])
        # One fault, one error, and not a list of every branch's failures.
        assert len(errors) == 1, (case.name, errors)
        [error] = errors
        assert error["path"] == _json_path(case.at), (case.name, error)
        assert not error["has_sub_errors"], (case.name, error)
        assert _names(case, error["message"]), (case.name, error)


# -- ajv in strict mode ----------------------------------------------------------------------


def _ajv(files: list[Path]) -> dict[str, dict[str, Any]]:
    node = shutil.which("node")
    if node is None:
        _missing("node is not installed")
    packages = ("ajv", "ajv-formats", "yaml")
    if not all((NODE_PREFIX / "node_modules" / p / "package.json").is_file() for p in packages):
        _missing(
            f"ajv is not installed in {NODE_PREFIX} (npm install --prefix {NODE_PREFIX} "
            "ajv@8 ajv-formats@3 yaml@2)"
        )
    done = subprocess.run(
        [node, str(AJV_CHECK), str(NODE_PREFIX), str(SCHEMA), *map(str, files)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode in (0, 1), f"ajv_check.cjs: {done.stderr}"  # 2: schema refused
    return {line["file"]: line for line in map(json.loads, done.stdout.splitlines())}


def test_ajv_strict_compiles_the_schema_and_accepts_every_shipped_file() -> None:
    results = _ajv(SHIPPED)
    assert len(results) == len(SHIPPED)
    assert {f: r["errors"] for f, r in results.items() if not r["valid"]} == {}


def test_ajv_strict_rejects_the_broken_copies(broken_dir: Path) -> None:
    results = _ajv([_broken_file(broken_dir, case) for case in BROKEN])
    for case in BROKEN:
        result = results[str(_broken_file(broken_dir, case))]
        assert not result["valid"], case.name
        first = result["errors"][0]  # the error ajv stopped at; then "must match then"
        pointer = "".join(f"/{part}" for part in case.at)
        assert first["instancePath"] == pointer, (case.name, first)
        named = {first["params"].get("additionalProperty"), first["params"].get("missingProperty")}
        assert case.at[-1:] == (case.field,) or case.field in named, (case.name, first)


# -- yaml-language-server, as an author's editor checks a file ----------------------------------


def _yls(files: list[Path]) -> dict[str, list[dict[str, Any]]]:
    node = shutil.which("node")
    if node is None:
        _missing("node is not installed")
    packages = ("yaml-language-server", "vscode-languageserver-textdocument")
    if not all((NODE_PREFIX / "node_modules" / p / "package.json").is_file() for p in packages):
        _missing(
            f"yaml-language-server is not installed in {NODE_PREFIX} (npm install --prefix "
            f"{NODE_PREFIX} yaml-language-server@1 vscode-languageserver-textdocument@1)"
        )
    done = subprocess.run(
        [node, str(YLS_CHECK), str(NODE_PREFIX), *map(str, files)],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    return {line["file"]: line["problems"] for line in map(json.loads, done.stdout.splitlines())}


def test_yaml_language_server_accepts_every_shipped_file() -> None:
    results = _yls(SHIPPED)
    assert len(results) == len(SHIPPED)
    assert {f: problems for f, problems in results.items() if problems} == {}


def test_yaml_language_server_rejects_the_broken_copies_at_the_fault(broken_dir: Path) -> None:
    results = _yls([_broken_file(broken_dir, case) for case in BROKEN])
    for case in BROKEN:
        path = _broken_file(broken_dir, case)
        text = path.read_text(encoding="utf-8")
        first = text[: text.index(case.new)].count("\n") + 1
        fault = range(first, first + case.new.count("\n") + 1)
        problems = results[str(path)]
        assert not any("Unable to load schema" in p["message"] for p in problems), problems
        assert any(p["line"] in fault or case.field in p["message"] for p in problems), (
            case.name,
            problems,
        )
