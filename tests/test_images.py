"""The lessons' pictures: committed, small, and what scripts/make_images.py draws today.

The script is run into a scratch folder and each picture it draws is compared with the committed
one. They must match in size, and differ in at most 2% of their pixels: Pillow's font rendering
may move a few edge pixels between versions (CI also runs Pillow 10.1), but a changed drawing
that was not re-run and committed fails here. A pixel counts as different when one of its
colour channels is more than TOLERANCE away, so a palette entry that shifts by a shade or two
between versions is not a difference nobody could see.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image, ImageChops

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts" / "make_images.py"
LESSONS = ROOT / "lessons"

PICTURES = [  # relative to lessons/ (and to --out)
    "digital-marketing/media/product-photo-good-bad.png",
    "online-safety/media/payment-slip-real-fake.png",
    "digital-marketing/media/qr-sticker-covered.png",
    "online-safety/media/phishing-vs-real.png",
]
MAX_BYTES = 100_000
MAX_CHANGED = 0.02
TOLERANCE = 8


def make_images(out: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr


@pytest.fixture(scope="module")
def drawn(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("images")
    make_images(out)
    return out


def changed_share(a: Image.Image, b: Image.Image) -> float:
    """The share of pixels where a colour channel differs by more than TOLERANCE."""
    diff = ImageChops.difference(a.convert("RGB"), b.convert("RGB"))
    red, green, blue = diff.split()
    worst = ImageChops.lighter(ImageChops.lighter(red, green), blue)
    changed = worst.point(lambda v: 255 if v > TOLERANCE else 0).histogram()[255]
    return changed / (a.width * a.height)


def test_the_script_draws_exactly_these_pictures(drawn: Path) -> None:
    made = sorted(p.relative_to(drawn).as_posix() for p in drawn.rglob("*") if p.is_file())
    assert made == sorted(PICTURES)


@pytest.mark.parametrize("rel", PICTURES)
def test_committed_picture_is_a_small_png(rel: str) -> None:
    path = LESSONS / rel
    assert path.is_file(), f"{rel} is missing: run python scripts/make_images.py"
    assert path.stat().st_size < MAX_BYTES, f"{rel} is {path.stat().st_size} bytes"
    with Image.open(path) as img:
        assert img.format == "PNG"
        img.load()


@pytest.mark.parametrize("rel", PICTURES)
def test_committed_picture_is_what_the_script_draws(drawn: Path, rel: str) -> None:
    with Image.open(LESSONS / rel) as committed, Image.open(drawn / rel) as fresh:
        assert fresh.size == committed.size
        share = changed_share(committed, fresh)
    assert share <= MAX_CHANGED, (
        f"{rel}: {share:.1%} of the pixels differ from what scripts/make_images.py draws; "
        "re-run it and commit the pictures"
    )


def test_the_script_draws_the_same_every_time(drawn: Path, tmp_path: Path) -> None:
    make_images(tmp_path)
    for rel in PICTURES:
        assert (tmp_path / rel).read_bytes() == (drawn / rel).read_bytes(), rel


def test_the_comparison_sees_a_change(drawn: Path) -> None:
    with Image.open(drawn / PICTURES[0]) as img:
        fresh = img.convert("RGB")
    edited = fresh.copy()
    edited.paste((255, 0, 255), (0, 0, fresh.width // 4, fresh.height // 4))
    assert changed_share(fresh, fresh) == 0
    assert changed_share(fresh, edited) > MAX_CHANGED
