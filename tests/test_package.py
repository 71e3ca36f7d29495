"""The built wheel, installed into a fresh virtual environment outside the repository.

The package ships the engine, not the content: lessons and catalogs live in folders that authors
edit, named by LESSONS_DIR and LOCALES_DIR. So from another folder the installed `lessonbot`
either refuses clearly (no content found) or, pointed at the shipped content, lints and chats.

The fresh environment gets the wheel alone; its dependencies are borrowed from the running
environment through a `.pth` file, so the test needs no package index (tests never touch the
network) and still proves that the wheel itself is whole.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "--quiet",
            "--wheel-dir",
            str(out),
            str(ROOT),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    [built] = out.glob("lessonbot-*.whl")
    return built


@pytest.fixture(scope="module")
def installed(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv holding the wheel; returns its `bin/` folder."""
    venv = tmp_path_factory.mktemp("venv")
    subprocess.run(
        [sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120
    )
    python = venv / "bin" / "python"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(python),
            "install",
            "--no-deps",
            "--quiet",
            str(wheel),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    site = Path(
        subprocess.run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
    )
    # Our dependencies, from the environment running the tests. A plain path entry: `.pth` files
    # in that folder (such as the editable install of this checkout) are not processed.
    (site / "_lessonbot_test_deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return venv / "bin"


def run(
    bin_dir: Path, cwd: Path, *args: str, stdin: str = "", **env: str
) -> subprocess.CompletedProcess[str]:
    clean = {
        k: v
        for k, v in os.environ.items()
        if k not in ("LESSONS_DIR", "LOCALES_DIR", "BROADCASTS_DIR", "PYTHONPATH")
    }
    clean.update(DATABASE_URL=f"sqlite+aiosqlite:///{cwd / 'bot.db'}", **env)
    return subprocess.run(
        [str(bin_dir / "lessonbot"), *args],
        input=stdin,
        cwd=cwd,
        env=clean,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_wheel_holds_code_migrations_fonts_and_types(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    for needed in (
        "bot/py.typed",
        "bot/store/migrations/env.py",
        "bot/store/migrations/script.py.mako",
        "bot/store/migrations/versions/0001_initial.py",
    ):
        assert needed in names
    assert any(n.startswith("bot/certificates/fonts/") and n.endswith(".ttf") for n in names)
    metadata = next(n for n in names if n.endswith(".dist-info/METADATA"))
    text = zipfile.ZipFile(wheel).read(metadata).decode()
    assert "License-Expression: MIT" in text
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names)


def test_installed_bot_is_the_wheel_not_the_checkout(installed: Path, tmp_path: Path) -> None:
    where = subprocess.run(
        [str(installed / "python"), "-c", "import bot; print(bot.__file__)"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert Path(where).resolve().is_relative_to(installed.parent.resolve())
    version = run(installed, tmp_path, "--version")
    assert version.stdout.strip().startswith("lessonbot ")


def test_without_content_every_command_refuses_and_says_what_to_set(
    installed: Path, tmp_path: Path
) -> None:
    lint = run(installed, tmp_path, "lint")
    assert lint.returncode == 1
    assert "lessons:1:1: error: no such folder" in lint.stdout
    assert "LESSONS_DIR" in lint.stdout and "0 error(s)" not in lint.stderr
    chat = run(installed, tmp_path, "chat", "--learner", "Ana", stdin="hello\n")
    assert chat.returncode == 2
    assert "no courses in LESSONS_DIR=lessons" in chat.stderr
    assert "Traceback" not in chat.stderr
    serve = run(installed, tmp_path, "worker")
    assert serve.returncode == 2 and "LESSONS_DIR" in serve.stderr


def test_pointed_at_the_content_it_lints_and_chats(installed: Path, tmp_path: Path) -> None:
    content = {
        "LESSONS_DIR": str(ROOT / "lessons"),
        "LOCALES_DIR": str(ROOT / "locales"),
        "BROADCASTS_DIR": str(ROOT / "broadcasts"),
    }
    lint = run(installed, tmp_path, "lint", **content)
    assert lint.returncode == 0, lint.stdout + lint.stderr
    assert "0 error(s)" in lint.stderr
    chat = run(
        installed, tmp_path, "chat", "--learner", "Ana", "--lang", "en", stdin="/menu\n", **content
    )
    assert chat.returncode == 0, chat.stderr
    assert "Stay safe online" in chat.stdout
    assert (tmp_path / "bot.db").is_file()  # migrated from the wheel's own migrations


def test_schema_from_another_folder(installed: Path, tmp_path: Path) -> None:
    schema = run(installed, tmp_path, "schema")
    assert schema.returncode == 0, schema.stderr
    assert "properties" in json.dumps(json.loads(schema.stdout))
