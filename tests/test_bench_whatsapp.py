"""bench/whatsapp_webhook.py runs end to end in its smallest form and reports a ratio.

Only that it works: the numbers of so short a run on a shared machine mean nothing, so no
timing is asserted (docs/performance.md has the real run).
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.slow


def test_the_smallest_run_reports_a_ratio() -> None:
    command = [sys.executable, "-m", "bench.whatsapp_webhook", "--rounds", "1"]
    command += ["--learners", "3", "--messages", "2"]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    out = done.stdout
    assert re.search(r"^round 1: bare \d+/s .* LessonBot \d+/s", out, re.M), out
    for system in ("bare webhook", "LessonBot"):
        assert re.search(rf"^{system} +\d+ +[\d.]+ +[\d.]+", out, re.M), out
    found = re.search(r"^median ratio LessonBot/bare: ([\d.]+)$", out, re.M)
    assert found is not None, out
    assert float(found.group(1)) > 0
