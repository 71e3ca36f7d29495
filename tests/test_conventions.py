"""The files a Python developer or deployer looks for, kept true to the code."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

from bot import __version__
from bot.cli import main
from bot.config import Settings

ROOT = Path(__file__).resolve().parent.parent


def test_env_example_names_every_setting() -> None:
    named = set(
        re.findall(r"^#? ?([A-Z][A-Z0-9_]+)=", (ROOT / ".env.example").read_text(), re.MULTILINE)
    )
    assert {name.upper() for name in Settings.model_fields} <= named


def test_license_file_matches_the_metadata() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["license"] == "MIT"
    assert project["license-files"] == ["LICENSE"]
    assert (ROOT / "LICENSE").read_text().startswith("MIT License\n")


def test_version_is_written_once_and_printed(capsys: pytest.CaptureFixture[str]) -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert "version" not in project and "version" in project["dynamic"]
    with pytest.raises(SystemExit) as stop:
        main(["--version"])
    assert stop.value.code == 0
    assert f"lessonbot {__version__}" in capsys.readouterr().out


def test_the_procfile_holds_only_long_running_processes_started_with_exec() -> None:
    lines = [line for line in (ROOT / "Procfile").read_text().splitlines() if line.strip()]
    processes = dict(line.split(":", 1) for line in lines)
    assert set(processes) == {"web", "worker"}
    assert all(command.strip().startswith("exec lessonbot ") for command in processes.values())
