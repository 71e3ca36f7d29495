"""Certificate rendering: every script we serve draws real glyphs, shaped, inside the page."""

from __future__ import annotations

import io
import struct
import unicodedata
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
from PIL import Image, ImageChops, ImageDraw, ImageFont, features

from bot.certificates import CertificateText, missing_glyphs, render_certificate
from bot.certificates.fonts import KHMER, LAO, LATIN, MYANMAR, THAI, Family, Weight, pil_font
from bot.certificates.layout import fit
from bot.certificates.render import COURSE, FRAME_INSET, HEIGHT, NAME, WIDTH
from bot.certificates.runs import Run, clean, split_runs

CODE = "K7Q2-9XPM"

SAMPLES: dict[str, CertificateText] = {
    "en": CertificateText(
        heading="Certificate of completion",
        name="Maria Santos",
        statement="has completed the course",
        course="Digital marketing for your business",
        date="22 November 2026",
        verify=f"Verification code: {CODE} · send /verify {CODE} to the bot",
    ),
    "vi": CertificateText(
        heading="Giấy chứng nhận hoàn thành",
        name="Nguyễn Thị Hồng",
        statement="đã hoàn thành khóa học",
        course="Tiếp thị số cho doanh nghiệp của bạn",
        date="22 tháng 11, 2026",
        verify=f"Mã xác minh: {CODE} · gửi /verify {CODE} cho bot",
    ),
    "th": CertificateText(
        heading="ประกาศนียบัตร",
        name="สมศรี ใจดี",
        statement="ได้สำเร็จหลักสูตร",
        course="การตลาดดิจิทัลสำหรับธุรกิจของคุณ",
        date="22 พฤศจิกายน 2569",
        verify=f"รหัสยืนยัน: {CODE} · ส่ง /verify {CODE} ถึงบอท",
    ),
    "km": CertificateText(
        heading="វិញ្ញាបនបត្រ",
        name="សុខ ចាន់ធា",
        statement="បានបញ្ចប់វគ្គសិក្សា",
        course="ទីផ្សារឌីជីថលសម្រាប់អាជីវកម្មរបស់អ្នក",
        date="២២ វិច្ឆិកា ២០២៦",
        verify=f"លេខកូដផ្ទៀងផ្ទាត់៖ {CODE} · ផ្ញើ /verify {CODE} ទៅបូត",
    ),
    "lo": CertificateText(
        heading="ໃບຢັ້ງຢືນ",
        name="ສົມພອນ",
        statement="ໄດ້ສຳເລັດຫຼັກສູດ",
        course="ການຕະຫຼາດດິຈິຕອນ",
        date="22 ພະຈິກ 2026",
        verify=f"ລະຫັດຢືນຢັນ: {CODE} · ສົ່ງ /verify {CODE} ຫາບອດ",
    ),
    "my": CertificateText(
        heading="အောင်လက်မှတ်",
        name="အောင်အောင်",
        statement="သင်တန်းကို အောင်မြင်စွာ ပြီးဆုံးခဲ့သည်",
        course="သင့်လုပ်ငန်းအတွက် ဒစ်ဂျစ်တယ်စျေးကွက်",
        date="၂၀၂၆ ခုနှစ် နိုဝင်ဘာ ၂၂ ရက်",
        verify=f"အတည်ပြုကုဒ်: {CODE} · /verify {CODE} ကို ဘော့သို့ ပို့ပါ",
    ),
    "fil": CertificateText(
        heading="Sertipiko ng pagkumpleto",
        name="Ma. Luisa Dela Cruz",
        statement="ay nakatapos ng kursong",
        course="Digital marketing para sa iyong negosyo",
        date="Nobyembre 22, 2026",
        verify=f"Verification code: {CODE} · ipadala ang /verify {CODE} sa bot",
    ),
    "ms": CertificateText(
        heading="Sijil Tamat Kursus",
        name="Nur Aisyah binti Ahmad",
        statement="telah menamatkan kursus",
        course="Pemasaran digital untuk perniagaan anda",
        date="22 November 2026",
        verify=f"Kod pengesahan: {CODE} · hantar /verify {CODE} kepada bot",
    ),
    "id": CertificateText(
        heading="Sertifikat Kelulusan",
        name="Dewi Lestari",
        statement="telah menyelesaikan kursus",
        course="Pemasaran digital untuk usaha Anda",
        date="22 November 2026",
        verify=f"Kode verifikasi: {CODE} · kirim /verify {CODE} ke bot",
    ),
    "th-mixed": CertificateText(
        heading="ประกาศนียบัตร",
        name="สมศรี (Somsri) ใจดี",
        statement="ได้สำเร็จหลักสูตร",
        course="การตลาดดิจิทัลสำหรับธุรกิจของคุณ",
        date="22 พฤศจิกายน 2569",
        verify=f"รหัสยืนยัน: {CODE} · ส่ง /verify {CODE} ถึงบอท",
    ),
}

#: Which family must draw each script's own letters.
SCRIPT_OF_SAMPLE: dict[str, Family] = {
    "en": LATIN,
    "vi": LATIN,
    "fil": LATIN,
    "ms": LATIN,
    "id": LATIN,
    "th": THAI,
    "th-mixed": THAI,
    "km": KHMER,
    "lo": LAO,
    "my": MYANMAR,
}

FIELDS = ("heading", "name", "statement", "course", "date", "verify", "issuer")
NOT_A_GLYPH = "\uffff"  # a noncharacter: no font maps it, so it draws .notdef (tofu)
GLYPH_SIZE = 48


def fields(text: CertificateText) -> list[str]:
    return [getattr(text, name) for name in FIELDS]


def open_png(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def glyph_bitmap(family: Family, text: str) -> bytes:
    """``text`` drawn alone with the family's regular font, as raw 8-bit pixels."""
    font = pil_font(family, Weight.REGULAR, GLYPH_SIZE)
    image = Image.new("L", (GLYPH_SIZE * 5, GLYPH_SIZE * 4), 0)
    ImageDraw.Draw(image).text((GLYPH_SIZE, GLYPH_SIZE * 3), text, font=font, fill=255, anchor="ls")
    return image.tobytes()


def tofu_free(family: Family, chars: set[str]) -> bool:
    """True if ``family`` draws every character as something other than .notdef.

    Tofu boxes are identical for every missing character, so a missing character's
    bitmap equals the bitmap of a known-missing one, and several missing characters
    collapse into a single bitmap.
    """
    visible = {c for c in chars if not c.isspace() and unicodedata.category(c) != "Cf"}
    tofu = glyph_bitmap(family, NOT_A_GLYPH)
    bitmaps = {glyph_bitmap(family, c) for c in visible}
    return tofu not in bitmaps and (len(bitmaps) > 1 or len(visible) <= 1)


def chars_by_family(texts: list[str]) -> dict[Family, set[str]]:
    found: dict[Family, set[str]] = {}
    for text in texts:
        for run in split_runs(clean(text)):
            found.setdefault(run.family, set()).update(run.text)
    return found


def png_chunks(data: bytes) -> list[bytes]:
    chunks, offset = [], 8
    while offset < len(data):
        (length,) = struct.unpack(">I", data[offset : offset + 4])
        chunks.append(data[offset + 4 : offset + 8])
        offset += 12 + length
    return chunks


@pytest.mark.parametrize("key", SAMPLES)
def test_sample_renders_without_tofu(key: str, tmp_path: Path) -> None:
    sample = SAMPLES[key]
    data = render_certificate(sample)
    (tmp_path / f"certificate-{key}.png").write_bytes(data)

    image = open_png(data)
    assert (image.format, image.size, image.mode) == ("PNG", (WIDTH, HEIGHT), "RGB")
    assert {
        name: missing_glyphs(value)
        for name, value in zip(FIELDS, fields(sample), strict=True)
        if missing_glyphs(value)
    } == {}

    by_family = chars_by_family(fields(sample))
    assert SCRIPT_OF_SAMPLE[key] in by_family
    for family, chars in by_family.items():
        assert tofu_free(family, chars), (key, family.name, sorted(chars))


@pytest.mark.parametrize("key", ["th", "km", "lo", "my"])
def test_tofu_check_fails_with_the_wrong_font(key: str) -> None:
    """The check above has teeth: the Latin font draws these scripts as tofu."""
    sample = SAMPLES[key]
    script_chars = {c for c in sample.heading + sample.course if not c.isspace()}
    assert not tofu_free(LATIN, script_chars)
    assert tofu_free(SCRIPT_OF_SAMPLE[key], script_chars)


@pytest.mark.parametrize(
    ("text", "family"),
    [
        ("ประกาศนียบัตร", THAI),
        ("វិញ្ញាបនបត្រ", KHMER),
        ("ໃບຢັ້ງຢືນ", LAO),
        ("အောင်လက်မှတ်", MYANMAR),
        ("Nguyễn Thị Hồng", LATIN),
    ],
)
def test_each_script_goes_to_its_own_font(text: str, family: Family) -> None:
    assert split_runs(text) == [Run(family, text)]


def test_mixed_line_is_split_into_script_runs() -> None:
    assert split_runs("สมศรี (Somsri) ใจดี") == [
        Run(THAI, "สมศรี "),
        Run(LATIN, "(Somsri) "),
        Run(THAI, "ใจดี"),
    ]
    # Latin digits and code inside Burmese go to NotoSans; Burmese stays whole.
    runs = split_runs(f"အတည်ပြုကုဒ်: {CODE}")
    assert [r.family for r in runs] == [MYANMAR, LATIN]
    assert runs[1].text.endswith(CODE)


def test_emoji_is_reported_and_dropped_without_crashing() -> None:
    assert missing_glyphs("Dewi 🌸") == {"🌸"}
    assert missing_glyphs("Dewi 🌸\ufe0f") == {"🌸"}  # the variation selector is not news
    with_emoji = render_certificate(replace(SAMPLES["id"], name="Dewi 🌸"))
    assert open_png(with_emoji).size == (WIDTH, HEIGHT)
    assert with_emoji == render_certificate(replace(SAMPLES["id"], name="Dewi"))
    only_emoji = render_certificate(replace(SAMPLES["id"], name="🌸🌸"))
    assert open_png(only_emoji).size == (WIDTH, HEIGHT)


def test_control_and_bidi_characters_are_stripped() -> None:
    assert clean("Dewi\x00\x07 \u202eLestari\n\tJaya") == "Dewi Lestari Jaya"
    assert missing_glyphs("Dewi\x00\u202e\n") == set()
    assert missing_glyphs("\ue000x") == {"\ue000"}  # private use: no font has it


def test_decomposed_vietnamese_renders_like_precomposed() -> None:
    base = SAMPLES["vi"]
    nfd = replace(base, name=unicodedata.normalize("NFD", base.name))
    assert render_certificate(nfd) == render_certificate(base)


@pytest.mark.parametrize(("text", "family"), [("ញ្ញ", KHMER), ("ကြ", MYANMAR)])
def test_complex_scripts_are_shaped_by_raqm(text: str, family: Family) -> None:
    """Khmer coeng stacks a subscript; Burmese medial ra is moved round its consonant."""
    assert features.check("raqm")
    raqm = pil_font(family, Weight.REGULAR, GLYPH_SIZE)
    assert raqm.layout_engine == ImageFont.Layout.RAQM
    basic = ImageFont.truetype(raqm.path, raqm.size, layout_engine=ImageFont.Layout.BASIC)

    def draw(font: ImageFont.FreeTypeFont) -> bytes:
        image = Image.new("L", (GLYPH_SIZE * 6, GLYPH_SIZE * 4), 0)
        ImageDraw.Draw(image).text(
            (GLYPH_SIZE, GLYPH_SIZE * 3), text, font=font, fill=255, anchor="ls"
        )
        return image.tobytes()

    assert draw(raqm) != draw(basic)
    if family == KHMER:  # unshaped, the subscript is a separate spacing glyph
        assert raqm.getlength(text) < basic.getlength(text)


LONG_LATIN = (
    "Digital marketing for your business: social media, online shops, customer messages, "
    "photos that sell, payments and keeping your accounts safe from scammers"
)
LONG_THAI = "การตลาดดิจิทัลสำหรับธุรกิจของคุณ" * 5  # no spaces: needs emergency breaks


@pytest.mark.parametrize("title", [LONG_LATIN, LONG_THAI, "x" * 150])
def test_long_course_title_stays_inside_the_page(title: str) -> None:
    assert len(title) >= 150
    base = SAMPLES["en"]
    long = open_png(render_certificate(replace(base, course=title)))
    empty = open_png(render_certificate(replace(base, course="")))

    bbox = ImageChops.difference(long, empty).getbbox()
    assert bbox is not None
    left, top, right, bottom = bbox
    assert FRAME_INSET + 3 < left < right < WIDTH - FRAME_INSET - 3
    assert COURSE.box.top <= top < bottom <= COURSE.box.top + COURSE.box.height
    assert right - left > WIDTH / 2  # it was drawn, not dropped

    block = fit(clean(title), COURSE.style, COURSE.box)
    assert 1 <= len(block.lines) <= COURSE.style.max_lines
    assert all(line.width <= COURSE.box.width for line in block.lines)


def test_long_latin_title_is_wrapped_not_truncated() -> None:
    block = fit(LONG_LATIN, COURSE.style, COURSE.box)
    assert len(block.lines) == 2
    assert " ".join(line.text for line in block.lines) == LONG_LATIN


def test_maximum_length_name_fits_its_box() -> None:
    for name in ("W" * 64, "ញ្ញ" * 21, "အောင်" * 12):
        block = fit(clean(name), NAME.style, NAME.box)
        assert block.lines and block.height <= NAME.box.height
        assert block.width <= NAME.box.width


def test_rendering_is_deterministic_and_carries_no_metadata() -> None:
    first = render_certificate(SAMPLES["km"])
    assert render_certificate(SAMPLES["km"]) == first
    assert png_chunks(first) == [b"IHDR", *([b"IDAT"] * (len(png_chunks(first)) - 2)), b"IEND"]


def test_the_certificate_names_the_bot_to_verify_it_with(monkeypatch: pytest.MonkeyPatch) -> None:
    import bot.certificates
    from bot.content import Library
    from bot.engine import SourceTexts
    from bot.journey.actions import certificate_message
    from bot.store.models import Certificate

    seen: list[CertificateText] = []
    monkeypatch.setattr(bot.certificates, "render_certificate", lambda t: seen.append(t) or b"")
    issued = Certificate(code="K7Q2-9XPM", course="c", name="Ana", locale="en",
                         issued_at=datetime(2026, 12, 1, tzinfo=UTC))  # fmt: skip
    certificate_message(issued, Library(()), SourceTexts(), "@LessonBot")
    certificate_message(issued, Library(()), SourceTexts())
    assert (
        seen[0].verify
        == "Code K7Q2-9XPM. Anyone can check it: send /verify K7Q2-9XPM to @LessonBot."
    )
    assert seen[1].verify.endswith("to this bot.")
