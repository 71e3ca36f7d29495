"""`lessonbot chat` as a user runs it: a real process, piped stdin, a real SQLite file."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def chat(tmp_path: Path, stdin: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'chat.db'}",
        "LESSONS_DIR": str(ROOT / "lessons"),
        "LOCALES_DIR": str(ROOT / "locales"),
    }
    return subprocess.run(
        [sys.executable, "-m", "bot", "chat", "--learner", "Ana", "--lang", "en", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=60,
        check=False,
    )


def test_leave_and_resume_at_the_same_step(tmp_path: Path) -> None:
    # Past the notice, pick online safety, then hello -> tricks -> OTP explainer.
    first = chat(tmp_path, "start learning\n3\n1\n1\n")
    assert first.returncode == 0, first.stderr
    assert "[3] Stay safe online (0/6)" in first.stdout
    last_step = first.stdout.split("> 1\n")[-1].split("\n\n")[0]
    assert "OTP" in last_step
    again = chat(tmp_path, "/quit\n")
    assert again.returncode == 0, again.stderr
    assert "Welcome back!" in again.stdout
    assert last_step in again.stdout  # the same step, word for word
    assert "Traceback" not in first.stderr + again.stderr


def test_end_of_input_and_unknown_input_are_calm(tmp_path: Path) -> None:
    result = chat(tmp_path, "what is this?\n/nonsense\n")
    assert result.returncode == 0
    assert "Please tap one of the buttons" in result.stdout  # during the notice
    assert "I don't know that command." in result.stdout
    assert "Bye!" in result.stdout
