"""Carrying out what the engine asked for and only the store can do (see `engine.Action`).

Each action does its database work inside the learner's write job and returns its reply, or,
for a reply that takes real work (drawing a certificate), what to make: the reply outbox keeps
that, and it is drawn when it is sent, off the event loop, so other learners don't wait for it.
"""

from __future__ import annotations

import html
import json
from datetime import datetime

from bot.content.library import Library
from bot.engine import Media, Say, Texts
from bot.engine.context import N_
from bot.engine.outputs import Action, Certify, Erase, ExportData, Verify
from bot.store import LearnerRecord
from bot.store.models import Certificate
from bot.store.replies import MadeLater

ERASED = N_("Your data is erased. If you write to me again, you start as a new learner.")


def carry_out(
    action: Action,
    record: LearnerRecord,
    library: Library,
    texts: Texts,
    locale: str,
    now: datetime,
) -> Say | MadeLater:
    if isinstance(action, Certify):
        return MadeLater(record.certify(action.course, action.name, now))
    if isinstance(action, Verify):
        return verify_message(record.find_certificate(action.code), library, texts, locale)
    if isinstance(action, ExportData):
        data = json.dumps(record.export(), ensure_ascii=False, indent=2).encode()
        text = texts.ui(locale, "Here is everything we keep about you. /delete erases it.")
        return Say(text, media=Media("document", "my-lessonbot-data.json", data))
    assert isinstance(action, Erase)
    record.erase()
    return Say(texts.ui(locale, ERASED))


def _course_title(library: Library, texts: Texts, locale: str, course_id: str) -> str:
    course = library.course(course_id)
    source = course.course.title if course else course_id
    return texts.lesson(locale, f"{course_id}/title", source)


def certificate_message(
    certificate: Certificate, library: Library, texts: Texts, bot_handle: str = ""
) -> Say:
    # Imported here: Pillow and the fonts load only when someone earns a certificate, not on
    # every start of `chat`.
    from bot.certificates import CertificateText, render_certificate

    locale = certificate.locale
    code = certificate.code
    png = render_certificate(
        CertificateText(
            heading=texts.ui(locale, "Certificate of completion"),
            name=certificate.name,
            statement=texts.ui(locale, "has completed the course"),
            course=_course_title(library, texts, locale, certificate.course),
            date=texts.day(locale, certificate.issued_at.date()),
            verify=(
                texts.ui(locale, "Code {code}. Anyone can check it: send /verify {code} to {bot}.")
                if bot_handle
                else texts.ui(
                    locale, "Code {code}. Anyone can check it: send /verify {code} to this bot."
                )
            ).format(code=code, bot=bot_handle),
        )
    )
    caption = texts.ui(locale, "Your certificate. Its code is {code}.").format(code=code)
    return Say(caption, media=Media("photo", f"certificate-{code}.png", png))


def verify_message(found: Certificate | None, library: Library, texts: Texts, locale: str) -> Say:
    if found is None:
        return Say(texts.ui(locale, "No certificate has that code. Check the code and try again."))
    return Say(
        "✅ "
        + texts.ui(locale, "Genuine: {name} completed “{course}” on {date}.").format(
            name=html.escape(found.name),
            course=html.escape(_course_title(library, texts, locale, found.course)),
            date=texts.day(locale, found.issued_at.date()),
        )
    )
