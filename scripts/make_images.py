#!/usr/bin/env python3
"""Draw the lessons' teaching pictures (lessons/IMAGES.md says what each one teaches).

    python scripts/make_images.py             rewrite the PNGs in lessons/<course>/media/
    python scripts/make_images.py --out DIR   write them to DIR/<course>/media/ instead

Pillow only: shapes, and Pillow's own font (ImageFont.load_default(size=...), Pillow >= 10.1);
nothing is downloaded. Nothing depends on the clock, and the QR-like grids come from fixed
seeds, so every run draws the same pictures. Each picture is drawn at SCALE times its size and
shrunk (smooth edges), then saved with a small palette, so it stays far below 100 KB.

The pictures carry no sentences: the lesson text around them is translated, the pictures are
not. Digits, times, amounts, a look-alike web address and drawn symbols only. In every picture
the wrong or fake example is on the left (red cross) and the right one on the right (green tick).
"""

from __future__ import annotations

import argparse
import random
import sys
from collections.abc import Callable, Sequence
from functools import cache
from pathlib import Path

from PIL import Image, ImageDraw, ImageEnhance, ImageFont

ROOT = Path(__file__).resolve().parent.parent
W, H = 640, 400  # plenty for a phone screen
SCALE = 3  # drawn at 3x, then shrunk: smooth lines and text
COLOURS = 64  # the saved palette

RGB = tuple[int, int, int]
RGBA = tuple[int, int, int, int]
Point = tuple[float, float]

BACKGROUND: RGB = (236, 240, 244)
INK: RGB = (28, 32, 38)
WHITE: RGB = (255, 255, 255)
GREY: RGB = (110, 116, 124)
PALE: RGB = (205, 211, 218)
RED: RGB = (214, 24, 34)  # the marks: red cross, red circles, numbers
GREEN: RGB = (18, 146, 64)  # the green tick
BANK: RGB = (0, 112, 120)  # a made-up bank app's colour
LINK: RGB = (20, 84, 204)


@cache
def font(size: float) -> ImageFont.FreeTypeFont:
    """Pillow's own font (Aileron), `size` in final pixels."""
    found = ImageFont.load_default(size=round(size * SCALE))
    if not isinstance(found, ImageFont.FreeTypeFont):
        sys.exit("make_images: this Pillow has no FreeType, so it cannot size its font")
    return found


def s(v: float) -> int:
    """A length in final pixels, at drawing scale."""
    return round(v * SCALE)


class Canvas:
    """A picture drawn in final pixels, at SCALE times the size. No `fill`: transparent."""

    def __init__(self, w: int, h: int, fill: RGB | None = BACKGROUND) -> None:
        self.w, self.h = w, h
        if fill is None:
            self.img = Image.new("RGBA", (s(w), s(h)), (0, 0, 0, 0))
        else:
            self.img = Image.new("RGB", (s(w), s(h)), fill)
        self.draw = ImageDraw.Draw(self.img)

    @staticmethod
    def pts(points: Sequence[Point]) -> list[tuple[int, int]]:
        return [(s(x), s(y)) for x, y in points]

    def rect(
        self,
        box: tuple[float, float, float, float],
        fill: RGB | RGBA | None = None,
        outline: RGB | None = None,
        width: float = 0,
        radius: float = 0,
    ) -> None:
        x0, y0, x1, y1 = box
        self.draw.rounded_rectangle(
            (s(x0), s(y0), s(x1), s(y1)),
            radius=s(radius),
            fill=fill,
            outline=outline,
            width=s(width),
        )

    def ellipse(
        self,
        cx: float,
        cy: float,
        rx: float,
        ry: float | None = None,
        fill: RGB | RGBA | None = None,
        outline: RGB | None = None,
        width: float = 0,
    ) -> None:
        ry = rx if ry is None else ry
        self.draw.ellipse(
            (s(cx - rx), s(cy - ry), s(cx + rx), s(cy + ry)),
            fill=fill,
            outline=outline,
            width=s(width),
        )

    def line(
        self, points: Sequence[Point], fill: RGB, width: float, round_ends: bool = True
    ) -> None:
        self.draw.line(self.pts(points), fill=fill, width=s(width), joint="curve")
        if round_ends:
            for x, y in (points[0], points[-1]):
                self.ellipse(x, y, width / 2 - 0.2, fill=fill)

    def polygon(
        self, points: Sequence[Point], fill: RGB | RGBA | None, outline: RGB | None = None
    ) -> None:
        self.draw.polygon(self.pts(points), fill=fill, outline=outline)

    def text(
        self,
        x: float,
        y: float,
        words: str,
        size: float,
        fill: RGB,
        anchor: str = "mm",
        bold: float = 0,
    ) -> None:
        self.draw.text(
            (s(x), s(y)),
            words,
            font=font(size),
            fill=fill,
            anchor=anchor,
            stroke_width=s(bold),
            stroke_fill=fill,
        )

    def text_width(self, words: str, size: float) -> float:
        return font(size).getlength(words) / SCALE

    def paste(self, layer: Canvas, cx: float, cy: float, angle: float = 0) -> None:
        """Lay a transparent `layer` centred on (cx, cy), turned `angle` degrees anticlockwise."""
        img = layer.img
        if angle:
            img = img.rotate(angle, resample=Image.Resampling.BICUBIC, expand=True)
        self.img.paste(img, (s(cx) - img.width // 2, s(cy) - img.height // 2), img)

    def finish(self) -> Image.Image:
        small = self.img.convert("RGB").reduce(SCALE)
        return small.quantize(COLOURS, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)


# --- marks shared by every picture ---------------------------------------------------------


def cross_badge(c: Canvas, cx: float, cy: float, r: float = 30) -> None:
    """Wrong: a red disc with a white cross."""
    c.ellipse(cx, cy, r, fill=RED, outline=WHITE, width=3)
    d = r * 0.42
    c.line([(cx - d, cy - d), (cx + d, cy + d)], WHITE, r * 0.3)
    c.line([(cx - d, cy + d), (cx + d, cy - d)], WHITE, r * 0.3)


def tick_badge(c: Canvas, cx: float, cy: float, r: float = 30) -> None:
    """Right: a green disc with a white tick."""
    c.ellipse(cx, cy, r, fill=GREEN, outline=WHITE, width=3)
    c.line(
        [
            (cx - r * 0.48, cy + r * 0.02),
            (cx - r * 0.14, cy + r * 0.38),
            (cx + r * 0.5, cy - r * 0.36),
        ],
        WHITE,
        r * 0.3,
    )


def ring(c: Canvas, cx: float, cy: float, rx: float, ry: float) -> None:
    """The red circle drawn around what to look at."""
    c.ellipse(cx, cy, rx, ry, outline=RED, width=5)


def number(c: Canvas, cx: float, cy: float, n: int) -> None:
    """A numbered red disc beside a red circle."""
    c.ellipse(cx, cy, 16, fill=RED, outline=WHITE, width=3)
    c.text(cx, cy + 1, str(n), 21, WHITE, bold=0.6)


def dots(c: Canvas, x: float, y: float, n: int, colour: RGB, r: float = 3.2) -> float:
    """Masking dots ("••••", which Pillow's font lacks); returns where they end."""
    for i in range(n):
        c.ellipse(x + r + i * r * 3, y, r, fill=colour)
    return x + n * r * 3


# --- small icons ------------------------------------------------------------------------------


def bank_icon(c: Canvas, cx: float, cy: float, size: float, colour: RGB) -> None:
    """A generic bank: a roof, three columns, a base. No real bank's sign."""
    h = size / 2
    c.polygon([(cx - h, cy - h * 0.25), (cx, cy - h), (cx + h, cy - h * 0.25)], colour)
    for i in (-1, 0, 1):
        x = cx + i * h * 0.62
        c.rect((x - h * 0.14, cy - h * 0.15, x + h * 0.14, cy + h * 0.62), colour)
    c.rect((cx - h, cy + h * 0.72, cx + h, cy + h), colour)


def clock_icon(c: Canvas, cx: float, cy: float, r: float, colour: RGB) -> None:
    c.ellipse(cx, cy, r, outline=colour, width=2.5)
    c.line([(cx, cy - r * 0.6), (cx, cy), (cx + r * 0.5, cy + r * 0.2)], colour, 2.5)


def person_icon(c: Canvas, cx: float, cy: float, r: float, colour: RGB) -> None:
    c.ellipse(cx, cy - r * 0.45, r * 0.42, fill=colour)
    c.draw.chord(
        (s(cx - r * 0.85), s(cy + r * 0.05), s(cx + r * 0.85), s(cy + r * 1.6)),
        180,
        360,
        fill=colour,
    )


def phone(c: Canvas, x: float, y: float, w: float, h: float, clock: str) -> tuple[float, ...]:
    """A plain phone with a status bar; returns the box under the status bar."""
    c.rect((x, y, x + w, y + h), INK, radius=24)
    sx0, sy0, sx1, sy1 = x + 8, y + 8, x + w - 8, y + h - 8
    c.rect((sx0, sy0, sx1, sy1), WHITE, radius=17)
    c.text(sx0 + 14, sy0 + 14, clock, 17, INK, anchor="lm", bold=0.3)
    # signal bars and a battery
    for i in range(4):
        bx = sx1 - 74 + i * 7
        c.rect((bx, sy0 + 19 - 3 * (i + 1), bx + 4, sy0 + 19), INK)
    c.rect((sx1 - 40, sy0 + 8, sx1 - 16, sy0 + 20), outline=INK, width=2, radius=2)
    c.rect((sx1 - 37, sy0 + 11, sx1 - 22, sy0 + 17), INK)
    c.rect((sx1 - 15, sy0 + 11, sx1 - 13, sy0 + 17), INK)
    return sx0, sy0 + 28, sx1, sy1


# --- 1. product photo: bad and good -----------------------------------------------------------


def jar(c: Canvas, cx: float, bottom: float, h: float) -> None:
    """The product: a jar of chilli paste with a lid and a label (a chilli, no words)."""
    w = h * 0.74
    top = bottom - h * 0.82
    line = max(1.5, h * 0.018)
    c.rect(
        (cx - w * 0.42, bottom - h, cx + w * 0.42, top + h * 0.04),
        (176, 36, 36),
        INK,
        line,
        h * 0.04,
    )
    c.rect((cx - w * 0.42, bottom - h * 0.92, cx + w * 0.42, bottom - h * 0.88), (130, 20, 24))
    c.rect((cx - w / 2, top, cx + w / 2, bottom), (214, 74, 28), INK, line, w * 0.2)
    c.rect(
        (cx - w * 0.36, top + h * 0.06, cx - w * 0.26, bottom - h * 0.12),
        (244, 150, 110),
        radius=w * 0.05,
    )
    lx0, ly0, lx1, ly1 = cx - w * 0.4, top + h * 0.2, cx + w * 0.4, top + h * 0.56
    c.rect((lx0, ly0, lx1, ly1), (252, 240, 212), INK, line, h * 0.03)
    # the chilli on the label: a curved body, thick at the stem, thin at the tip
    my = (ly0 + ly1) / 2
    length, thick = w * 0.56, h * 0.075
    x0 = cx - length / 2 + w * 0.04
    upper, lower = [], []
    for i in range(13):
        t = i / 12
        px, py = x0 + length * t, my - h * 0.02 + h * 0.07 * t * t
        half = thick / 2 * (1 - t) ** 0.6
        upper.append((px, py - half))
        lower.append((px, py + half))
    c.polygon([*upper, *reversed(lower)], (206, 30, 30))
    c.line([(x0 + 1, my - h * 0.02), (x0 - w * 0.08, my - h * 0.07)], (40, 140, 50), h * 0.03)


def bad_photo(pw: int, ph: int) -> Image.Image:
    """Dark, cluttered, tilted, the jar small and off to one side."""
    m = 60  # room to turn without showing the corners
    c = Canvas(pw + 2 * m, ph + 2 * m, (64, 58, 54))
    table = m + ph * 0.62
    c.rect((0, table, pw + 2 * m, ph + 2 * m), (92, 70, 54))
    c.line([(0, table), (pw + 2 * m, table)], (120, 96, 74), 3)
    # clutter: a bottle, a mug, a box, a crumpled bag, a cable, a spoon
    bx = m + pw * 0.62
    c.rect((bx, table - 118, bx + 34, table + 8), (52, 110, 84), radius=8)
    c.rect((bx + 9, table - 146, bx + 25, table - 112), (52, 110, 84), radius=4)
    c.rect((bx + 56, table - 48, bx + 100, table + 14), (170, 160, 60), radius=6)
    c.ellipse(bx + 104, table - 18, 12, 14, outline=(170, 160, 60), width=6)
    c.rect((m - 20, table - 70, m + 60, table + 4), (150, 110, 70))
    c.line([(m - 20, table - 70), (m + 60, table - 70)], (120, 86, 50), 3)
    c.polygon(
        [
            (m + pw * 0.36, table + 20),
            (m + pw * 0.5, table - 26),
            (m + pw * 0.6, table + 6),
            (m + pw * 0.56, table + 40),
        ],
        (196, 200, 206),
    )
    c.line(
        [(m + 10, table + 60), (m + 70, table + 40), (m + 130, table + 74), (m + 210, table + 50)],
        (30, 30, 30),
        4,
    )
    c.line([(m + pw * 0.72, table + 70), (m + pw * 0.95, table + 52)], (180, 180, 186), 6)
    jar(c, m + pw * 0.27, table + 44, 62)
    # too little light: everything dark, and the flash's hard shine on the jar
    c.img = ImageEnhance.Brightness(c.img).enhance(0.62)
    c.draw = ImageDraw.Draw(c.img)
    c.ellipse(m + pw * 0.245, table + 8, 5, 9, fill=(255, 255, 244))
    img = c.img.rotate(-11, resample=Image.Resampling.BICUBIC)
    return img.crop((s(m), s(m), s(m + pw), s(m + ph)))


def good_photo(pw: int, ph: int) -> Image.Image:
    """Daylight, a plain background, the jar straight, centred, filling the frame."""
    c = Canvas(pw, ph, (250, 248, 243))
    c.rect((0, ph * 0.74, pw, ph), (238, 232, 222))
    c.ellipse(pw / 2, ph * 0.9, pw * 0.3, 12, fill=(218, 210, 198))
    jar(c, pw / 2, ph * 0.9, ph * 0.8)
    return c.img


def product_photo() -> Image.Image:
    c = Canvas(W, H)
    pw, ph, y = 280, 284, 18
    for x, photo, badge in (
        (24, bad_photo(pw, ph), cross_badge),
        (336, good_photo(pw, ph), tick_badge),
    ):
        c.img.paste(photo, (s(x), s(y)))
        c.rect((x - 3, y - 3, x + pw + 3, y + ph + 3), outline=INK, width=5, radius=6)
        badge(c, x + pw / 2, 354, 32)
    return c.finish()


# --- 2. payment slip: fake and real -----------------------------------------------------------


def slip(c: Canvas, x: float, y: float, fake: bool) -> None:
    w, h = 250, 336
    sx0, top, sx1, _ = phone(c, x, y, w, h, "14:06")
    mid = (sx0 + sx1) / 2
    c.rect((sx0, top, sx1, top + 34), BANK)
    bank_icon(c, mid, top + 17, 24, WHITE)
    c.ellipse(mid, top + 70, 24, fill=GREEN)
    c.line([(mid - 11, top + 70), (mid - 3, top + 79), (mid + 12, top + 61)], WHITE, 6)
    if fake:  # 1: pasted in: a grey patch, a bigger, bolder, crooked amount
        layer = Canvas(150, 52, None)
        layer.rect((0, 0, 150, 52), (226, 226, 214))
        layer.text(75, 27, "250.00", 40, INK, bold=1.1)
        c.paste(layer, mid + 12, top + 120, angle=4)
    else:
        c.text(mid, top + 121, "250.00", 34, INK)
    c.line([(sx0 + 14, top + 156), (sx1 - 14, top + 156)], PALE, 2, round_ends=False)
    rows = top + 184, top + 222, top + 260
    ix, tx = sx0 + 28, sx0 + 52
    person_icon(c, ix, rows[0], 11, GREY)
    end = dots(c, tx, rows[0] + 1, 4, INK)
    c.text(end + 8, rows[0], "4821", 20, INK, anchor="lm")
    clock_icon(c, ix, rows[1], 10, GREY)
    c.text(tx, rows[1], "16:40" if fake else "14:05", 20, INK, anchor="lm")  # 3
    c.text(ix, rows[2], "#", 22, GREY)
    if not fake:  # 2: the fake has no reference number
        c.text(tx, rows[2], "84120739", 20, INK, anchor="lm")
    if fake:
        ring(c, mid + 12, top + 120, 96, 40)
        number(c, mid - 84, top + 88, 1)
        ring(c, mid, rows[2], 104, 20)
        number(c, sx0 - 8, rows[2] - 12, 2)
        ring(c, tx + 26, rows[1], 46, 20)
        number(c, tx + 80, rows[1] - 14, 3)
        ring(c, sx0 + 36, y + 22, 35, 14)  # the phone's own clock: earlier than the "payment"
        number(c, sx0 + 86, y + 22, 3)
    badge = cross_badge if fake else tick_badge
    badge(c, x + w / 2, 372, 24)


def fake_beside_real(draw: Callable[..., None], fake_x: int, real_x: int) -> Image.Image:
    """A picture of the fake thing (left) beside the real one (right)."""
    c = Canvas(W, H)
    draw(c, fake_x, 6, fake=True)
    draw(c, real_x, 6, fake=False)
    return c.finish()


def payment_slip() -> Image.Image:
    return fake_beside_real(slip, 44, 346)


# --- 3. QR sticker covered by a fraudster's --------------------------------------------------

QR_MODULES = 23  # not a real QR size (21, 25, 29, ...): the grids are pictures, not codes


def qr(c: Canvas, x: float, y: float, size: float, seed: int, colour: RGB = INK) -> None:
    """A QR-like grid: three finder squares and fixed-seed random modules. Not a code."""
    n = QR_MODULES
    m = size / n
    rng = random.Random(seed)
    c.rect((x, y, x + size, y + size), WHITE)

    def finder_zone(i: int, j: int) -> bool:
        return (i < 8 and j < 8) or (i < 8 and j >= n - 8) or (i >= n - 8 and j < 8)

    for j in range(n):
        for i in range(n):
            if not finder_zone(i, j) and rng.random() < 0.5:
                c.rect((x + i * m, y + j * m, x + (i + 1) * m, y + (j + 1) * m), colour)
    for i, j in ((0, 0), (n - 7, 0), (0, n - 7)):
        fx, fy = x + i * m, y + j * m
        c.rect((fx, fy, fx + 7 * m, fy + 7 * m), colour)
        c.rect((fx + m, fy + m, fx + 6 * m, fy + 6 * m), WHITE)
        c.rect((fx + 2 * m, fy + 2 * m, fx + 5 * m, fy + 5 * m), colour)


SHOP: RGB = (28, 92, 176)  # the shop's sticker
FRAUD: RGB = (236, 112, 20)  # the fraudster's sticker: a different edge


def shop_sticker(c: Canvas, cx: float, top: float) -> tuple[float, float, float]:
    """The shop's own payment sticker; returns its QR's centre and size."""
    w, h = 212, 292
    x0 = cx - w / 2
    c.rect((x0 + 4, top + 5, x0 + w + 4, top + h + 5), (196, 180, 156), radius=16)
    c.rect((x0, top, x0 + w, top + h), SHOP, radius=16)
    c.rect((x0 + 12, top + 52, x0 + w - 12, top + h - 12), WHITE, radius=8)
    # the shop's sign: a striped awning over a shop front with a door
    ax, ay = cx, top + 26
    for i in range(5):
        colour = WHITE if i % 2 == 0 else (250, 200, 60)
        sx = ax - 40 + i * 16
        c.rect((sx, ay - 16, sx + 16, ay - 4), colour)
        c.draw.pieslice((s(sx), s(ay - 11), s(sx + 16), s(ay + 3)), 0, 180, fill=colour)
    c.rect((ax - 34, ay + 3, ax + 34, ay + 17), WHITE)
    c.rect((ax - 7, ay + 6, ax + 7, ay + 17), SHOP)
    size = 180
    qy = top + 52 + (h - 64 - size) / 2
    qr(c, cx - size / 2, qy, size, seed=7)
    return cx, qy + size / 2, size


def fraud_sticker(size: float) -> tuple[Canvas, Canvas]:
    """The fraudster's sticker, its bottom-right corner peeling; and its shadow."""
    pad = 16
    t = size + 2 * pad
    peel = size * 0.3
    layer = Canvas(round(t), round(t), None)
    shadow = Canvas(round(t), round(t), None)
    a, b = pad, pad + size
    outline = [(a, a), (b, a), (b, b - peel), (b - peel, b), (a, b)]
    shadow.polygon(outline, (0, 0, 0, 90))
    layer.polygon(outline, FRAUD)
    inner = 9
    qr(layer, a + inner, a + inner, size - 2 * inner, seed=1234)
    # cover the QR's peeled-off corner with the sticker's own edge again
    layer.polygon(
        [(b, b - peel - inner * 1.5), (b, b - peel), (b - peel, b), (b - peel - inner * 1.5, b)],
        FRAUD,
    )
    # the flap: the sticker's grey back, folded over, with a soft shadow under it
    layer.polygon(
        [(b - peel + 4, b + 3), (b + 3, b - peel + 4), (b - peel + 8, b - peel + 8)], (0, 0, 0, 70)
    )
    layer.polygon([(b - peel, b), (b, b - peel), (b - peel, b - peel)], (226, 222, 212), INK)
    layer.line([(b - peel, b), (b, b - peel)], (160, 156, 146), 2)
    return layer, shadow


def qr_sticker() -> Image.Image:
    c = Canvas(W, H, (238, 222, 196))  # a shop's wall
    # left: the fraudster's sticker stuck over the shop's QR
    cx, qy, size = shop_sticker(c, 190, 12)
    layer, shadow = fraud_sticker(size + 10)
    c.paste(shadow, cx + 5, qy + 6, angle=-7)
    c.paste(layer, cx, qy, angle=-7)
    ring(c, cx, qy, 130, 124)
    cross_badge(c, 190, 360, 30)
    # right: the shop's sticker as it should be
    shop_sticker(c, 484, 12)
    tick_badge(c, 484, 360, 30)
    return c.finish()


# --- 4. phishing message against a real one ---------------------------------------------------


def chat(c: Canvas, x: float, y: float, fake: bool) -> None:
    w, h = 262, 336
    sx0, top, sx1, sy1 = phone(c, x, y, w, h, "14:06")
    c.rect((sx0, top, sx1, sy1), (232, 226, 214), radius=17)
    c.rect((sx0, top, sx1, top + 17), (232, 226, 214))
    # the chat's header: back arrow, avatar, who it is
    c.rect((sx0, top, sx1, top + 48), (244, 244, 246))
    c.line([(sx0 + 20, top + 16), (sx0 + 12, top + 24), (sx0 + 20, top + 32)], INK, 3.5)
    ax, ay = sx0 + 46, top + 24
    if fake:  # 1: an unknown number, no name, no picture
        c.ellipse(ax, ay, 16, fill=(160, 164, 170))
        c.text(ax, ay + 1, "?", 22, WHITE, bold=0.8)
        c.text(ax + 24, ay, "+999 123 4567", 17, INK, anchor="lm")
    else:  # a saved contact: the bank's picture, and a verified tick
        c.ellipse(ax, ay, 16, fill=BANK)
        bank_icon(c, ax, ay, 18, WHITE)
        c.rect((ax + 26, ay - 5, ax + 108, ay + 5), (150, 154, 160), radius=5)
        vx = ax + 122
        c.ellipse(vx, ay, 10, fill=LINK)
        c.line([(vx - 5, ay), (vx - 1.5, ay + 4), (vx + 5, ay - 4)], WHITE, 2.6)
    # the message bubble
    bx0, by0, bx1 = sx0 + 10, top + 70, sx1 - 14
    by1 = by0 + 178
    c.polygon([(bx0 - 6, by0), (bx0 + 14, by0), (bx0 + 14, by0 + 16)], WHITE)
    c.rect((bx0, by0, bx1, by1), WHITE, radius=12)
    lx = bx0 + 14
    if fake:
        # 3: hurry: a warning sign, "!!!", a countdown
        tx, ty = lx + 18, by0 + 32
        c.polygon([(tx, ty - 18), (tx + 20, ty + 16), (tx - 20, ty + 16)], RED)
        c.rect((tx - 2.5, ty - 7, tx + 2.5, ty + 6), WHITE, radius=2)
        c.ellipse(tx, ty + 11, 2.8, fill=WHITE)
        c.text(tx + 30, ty + 2, "!!!", 30, RED, anchor="lm", bold=1)
        clock_icon(c, tx + 96, ty + 2, 13, RED)
        c.text(tx + 114, ty + 2, "24:00", 24, RED, anchor="lm", bold=0.7)
        # abstract lines of text: what the message says does not matter here
        for i, length in enumerate((0.9, 0.65)):
            ly = by0 + 70 + i * 18
            c.rect((lx, ly, lx + (bx1 - bx0 - 28) * length, ly + 8), PALE, radius=4)
        # 2: a look-alike address: "1" for "l" (in red here, to show it), an odd ending
        head, one, tail = "bank-secure-", "1", "ogin.xyz"
        c.text(lx, by0 + 128, head, 18, LINK, anchor="lm")
        x1 = lx + c.text_width(head, 18)
        c.text(x1, by0 + 128, one, 18, RED, anchor="lm", bold=0.6)
        c.text(x1 + c.text_width(one, 18), by0 + 128, tail, 18, LINK, anchor="lm")
        link_w = c.text_width(head + one + tail, 18)
        c.line([(lx, by0 + 140), (lx + link_w, by0 + 140)], LINK, 2, round_ends=False)
    else:
        c.ellipse(lx + 16, by0 + 34, 16, fill=GREEN)
        c.line([(lx + 8, by0 + 34), (lx + 14, by0 + 40), (lx + 25, by0 + 27)], WHITE, 4.5)
        c.text(lx + 42, by0 + 35, "+250.00", 30, GREEN, anchor="lm", bold=0.5)
        for i, length in enumerate((0.9, 0.65)):
            ly = by0 + 70 + i * 18
            c.rect((lx, ly, lx + (bx1 - bx0 - 28) * length, ly + 8), PALE, radius=4)
        end = dots(c, lx + 2, by0 + 128, 4, INK)
        c.text(end + 8, by0 + 128, "4821", 20, INK, anchor="lm")
    c.text(bx1 - 10, by1 - 14, "14:05", 15, GREY, anchor="rm")
    if fake:
        ring(c, ax + 64, ay, 84, 23)
        number(c, ax + 150, ay - 20, 1)
        ring(c, (bx0 + bx1) / 2, by0 + 132, 122, 24)
        number(c, bx0 - 6, by0 + 112, 2)
        ring(c, lx + 90, by0 + 34, 108, 30)
        number(c, lx + 200, by0 + 8, 3)
    badge = cross_badge if fake else tick_badge
    badge(c, x + w / 2, 372, 24)


def phishing() -> Image.Image:
    return fake_beside_real(chat, 34, 344)


PICTURES: dict[str, Callable[[], Image.Image]] = {
    "digital-marketing/media/product-photo-good-bad.png": product_photo,
    "online-safety/media/payment-slip-real-fake.png": payment_slip,
    "digital-marketing/media/qr-sticker-covered.png": qr_sticker,
    "online-safety/media/phishing-vs-real.png": phishing,
}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--out",
        type=Path,
        default=ROOT / "lessons",
        help="the folder to write <course>/media/*.png to (default: the lessons folder)",
    )
    args = parser.parse_args(argv)
    for rel, draw in PICTURES.items():
        path = args.out / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        draw().save(path, optimize=True)
        print(f"{path}  {path.stat().st_size // 1024} KB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
