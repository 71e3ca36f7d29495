"""Draw a course certificate as a PNG.

The page has a fixed design: every field has its own box, and ``layout.fit`` makes
the text fit that box whatever the language, so a long Khmer course title or a
64-character name can never push other fields around or run off the page.
Output is byte-for-byte deterministic for the same input (no timestamps or other
metadata are written), which keeps certificates cacheable and testable.
"""

from __future__ import annotations

import io
import threading
from dataclasses import dataclass

from PIL import Image, ImageDraw

from bot.certificates.fonts import Weight
from bot.certificates.layout import Block, Box, Style, draw_block, fit
from bot.certificates.runs import clean

WIDTH, HEIGHT = 1600, 1130

PAPER = "#fbf7ee"
TEAL = "#17455c"
GOLD = "#b8913f"
INK = "#1f2328"
MUTED = "#5b6168"

_LEFT, _TEXT_WIDTH = 150, WIDTH - 300


@dataclass(frozen=True)
class CertificateText:
    """Everything printed on a certificate, already translated and formatted."""

    heading: str
    name: str
    statement: str
    course: str
    date: str
    verify: str
    issuer: str = "LessonBot"


@dataclass(frozen=True)
class _Field:
    style: Style
    box: Box
    colour: str


HEADING = _Field(Style(Weight.BOLD, 62, 30, 2), Box(_LEFT, 100, _TEXT_WIDTH, 135), TEAL)
NAME = _Field(Style(Weight.BOLD, 96, 40, 1), Box(_LEFT, 270, _TEXT_WIDTH, 175), INK)
STATEMENT = _Field(Style(Weight.REGULAR, 34, 20, 2), Box(_LEFT, 468, _TEXT_WIDTH, 84), MUTED)
COURSE = _Field(Style(Weight.BOLD, 54, 24, 2), Box(_LEFT, 556, _TEXT_WIDTH, 190), TEAL)
DATE = _Field(Style(Weight.REGULAR, 32, 20, 1), Box(_LEFT, 756, _TEXT_WIDTH, 66), INK)
ISSUER = _Field(Style(Weight.BOLD, 38, 22, 1), Box(_LEFT + 250, 838, _TEXT_WIDTH - 500, 80), GOLD)
VERIFY = _Field(Style(Weight.REGULAR, 24, 15, 2), Box(_LEFT, 945, _TEXT_WIDTH, 100), MUTED)

#: Inner edge of the decorative frame; all text stays inside it (tests check this).
FRAME_INSET = 50


def render_certificate(text: CertificateText) -> bytes:
    """Render the certificate as PNG bytes (RGB, ``WIDTH`` x ``HEIGHT``).

    Characters no shipped font can draw are left out; check ``missing_glyphs`` on
    user-supplied names first if the learner should be told.
    """
    with _FONTS_IN_USE:
        image = _draw(text)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", compress_level=6)
    return buffer.getvalue()


# The cached FreeType faces are shared, and FreeType faces are not safe to use from two threads
# at once; the bot renders in a worker thread (asyncio.to_thread), so one render at a time.
_FONTS_IN_USE = threading.Lock()


def _draw(text: CertificateText) -> Image.Image:
    image = Image.new("RGB", (WIDTH, HEIGHT), PAPER)
    draw = ImageDraw.Draw(image)
    _draw_frame(draw)
    for field, value in (
        (HEADING, text.heading),
        (STATEMENT, text.statement),
        (COURSE, text.course),
        (DATE, text.date),
        (VERIFY, text.verify),
    ):
        _place(draw, field, value)
    name = _place(draw, NAME, text.name)
    _underline(draw, name)
    issuer = _place(draw, ISSUER, text.issuer)
    _flank(draw, issuer)
    return image


def _place(draw: ImageDraw.ImageDraw, field: _Field, value: str) -> Block:
    block = fit(clean(value), field.style, field.box)
    draw_block(draw, block, field.box, field.colour)
    return block


def _diamond(draw: ImageDraw.ImageDraw, x: int, y: int, r: int, colour: str) -> None:
    draw.polygon([(x, y - r), (x + r, y), (x, y + r), (x - r, y)], fill=colour)


def _draw_frame(draw: ImageDraw.ImageDraw) -> None:
    """A teal outer rule, a fine gold inner rule with diamond corners, a heading ornament."""
    draw.rectangle((28, 28, WIDTH - 29, HEIGHT - 29), outline=TEAL, width=12)
    inset = FRAME_INSET
    draw.rectangle((inset, inset, WIDTH - inset - 1, HEIGHT - inset - 1), outline=GOLD, width=3)
    for x in (inset + 1, WIDTH - inset - 2):
        for y in (inset + 1, HEIGHT - inset - 2):
            _diamond(draw, x, y, 11, GOLD)
    middle, y = WIDTH // 2, 252
    draw.line((middle - 190, y, middle - 18, y), fill=GOLD, width=2)
    draw.line((middle + 18, y, middle + 190, y), fill=GOLD, width=2)
    _diamond(draw, middle, y, 8, GOLD)


def _underline(draw: ImageDraw.ImageDraw, name: Block) -> None:
    """A gold rule under the name, a little wider than the name itself."""
    half = round(min(max(name.width / 2 + 60, 260), _TEXT_WIDTH / 2))
    y = NAME.box.top + NAME.box.height + 6
    draw.line((WIDTH // 2 - half, y, WIDTH // 2 + half, y), fill=GOLD, width=2)


def _flank(draw: ImageDraw.ImageDraw, issuer: Block) -> None:
    """Short gold rules either side of the issuer's name, like a seal line."""
    if not issuer.lines:
        return
    box = ISSUER.box
    y = box.top + box.height // 2
    half = round(issuer.width / 2) + 24
    draw.line((WIDTH // 2 - half - 120, y, WIDTH // 2 - half, y), fill=GOLD, width=2)
    draw.line((WIDTH // 2 + half, y, WIDTH // 2 + half + 120, y), fill=GOLD, width=2)
