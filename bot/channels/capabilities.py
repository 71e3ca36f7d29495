"""What each messaging app can show and when it lets the bot speak: its declared capabilities.

Renderers read these to turn a prompt into what the app can show, lint reads them to check every
lesson in every locale against every app, and the senders read the window and rate rules. The
figures are the platforms' own documented limits (research/channels.md names the pages, checked
2026-12-01). This module is data only: it imports no messaging library, so lint, broadcast and
the journey loops depend on it without loading a framework.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Literal

# What may go out once the free-messaging window has closed:
# "anything": there is no window (Telegram, the console);
# "templates": only messages the platform approved in advance (WhatsApp's template messages);
# "allowance": counted messages, up to a monthly allowance (Zalo's proactive messages);
# "nothing": the platform allows nothing the learner did not ask for (Messenger).
OutsideWindow = Literal["anything", "templates", "allowance", "nothing"]


@dataclass(frozen=True)
class Capabilities:
    channel: str
    # Buttons: at most `buttons` tappable choices on one message, each label at most
    # `label_chars` characters. 0 buttons: choices are shown as numbered text.
    buttons: int
    label_chars: int
    # A list message (a menu the learner opens): at most `list_rows` rows of at most `row_chars`
    # characters, each with an optional description of `row_description_chars`. 0: no lists.
    list_rows: int
    row_chars: int
    row_description_chars: int
    # The longest text of one message, and of one message that carries buttons or a list.
    text_chars: int
    interactive_chars: int
    # The kinds of media it sends: "photo", "document", "audio" (a step's recorded clip). A
    # message's media of another kind is left out there and its text goes alone
    # (bot/channels/media.py `sendable`).
    media: frozenset[str]
    caption_chars: int
    # Free-form messages are allowed for `window` after the learner's last message (None: any
    # time), and at most `window_replies` of them in it (None: no count).
    window: timedelta | None
    window_replies: int | None
    outside_window: OutsideWindow
    # Messages per second the platform accepts from one bot or number, all chats together.
    rate: float
    # What costs or counts against a quota, in a sentence for the README and the dry run.
    quota: str

    def form(self, options: int, longest: int) -> Literal["buttons", "list", "numbered"]:
        """How a prompt of `options` choices, the longest label `longest` characters, is shown:
        as buttons, as a list message, or as numbered text the learner answers by typing."""
        if 0 < options <= self.buttons and longest <= self.label_chars:
            return "buttons"
        if 0 < options <= self.list_rows and longest <= self.row_chars + self.row_description_chars:
            return "list"  # a label past `row_chars` is cut in the row, whole in its description
        return "numbered"


TELEGRAM = Capabilities(
    channel="telegram",
    # Inline keyboards take up to 100 buttons; 8 rows of choices is what reads on a phone.
    buttons=100,
    label_chars=40,  # a phone starts cutting a label at about 40
    list_rows=0,
    row_chars=0,
    row_description_chars=0,
    text_chars=4096,
    interactive_chars=4096,
    media=frozenset({"photo", "document", "audio"}),  # a clip goes as a voice message
    caption_chars=1024,
    window=None,
    window_replies=None,
    outside_window="anything",
    rate=30.0,  # about 30 messages/s in bulk; BROADCAST_RATE sets what broadcasts use
    quota="free; no window, no quota",
)

WHATSAPP = Capabilities(
    channel="whatsapp",
    buttons=3,  # reply buttons
    label_chars=20,
    list_rows=10,
    row_chars=24,
    row_description_chars=72,
    text_chars=4096,
    interactive_chars=1024,
    media=frozenset({"photo", "document", "audio"}),  # audio messages carry no caption
    caption_chars=1024,
    window=timedelta(hours=24),  # the customer-service window
    window_replies=None,
    outside_window="templates",
    rate=80.0,  # Cloud API throughput per number by default
    quota=(
        "replies inside the 24 h window are free; outside it only approved templates, paid per "
        "message by category, to at most the number's messaging tier of users per 24 h"
    ),
)

LINE = Capabilities(
    channel="line",
    buttons=13,  # quick reply items
    label_chars=20,
    list_rows=0,
    row_chars=0,
    row_description_chars=0,
    text_chars=5000,
    interactive_chars=5000,  # quick replies ride on any message, a text one here
    # Images go by HTTPS URL; there is no file message to send. An audio message needs an
    # HTTPS URL and the clip's duration too (developers.line.biz/en/reference/messaging-api/
    # #audio-message, checked 2026-12-03), and the bot hosts no files: no clips on LINE.
    media=frozenset({"photo"}),
    caption_chars=5000,  # no captions: the text follows the picture as its own message
    window=None,  # no window: a reply token answers free, anything else is a counted push
    window_replies=None,
    outside_window="anything",
    rate=2000.0,  # push requests per second per channel
    quota=(
        "replies with the reply token are free; pushes (broadcasts, reminders, late replies) "
        "count against the plan's monthly message quota"
    ),
)

MESSENGER = Capabilities(
    channel="messenger",
    buttons=13,  # quick replies
    label_chars=20,
    list_rows=0,
    row_chars=0,
    row_description_chars=0,
    text_chars=2000,
    interactive_chars=2000,
    media=frozenset({"photo", "document", "audio"}),
    caption_chars=2000,  # no captions: the text follows the attachment
    window=timedelta(hours=24),  # the standard messaging window
    window_replies=None,
    outside_window="nothing",  # recurring notifications ended 2026-02-10; tags don't fit
    rate=250.0,  # Meta allows 300 calls/s per Page for text (and 200 per engaged user a day)
    quota="free inside the 24 h window; nothing may be sent outside it",
)

ZALO = Capabilities(
    channel="zalo",
    buttons=5,
    label_chars=20,
    list_rows=0,
    row_chars=0,
    row_description_chars=0,
    text_chars=2000,
    interactive_chars=2000,
    # A consultation message is text, an image, a GIF, a file, a sticker or a request for the
    # user's details: no audio, which only comes in from users (app.unpkg.com/@warriorteam/
    # redai-zalo-sdk@1.32.17/files/docs/message-sequence-api.md, checked 2026-12-03; Zalo's
    # own pages were not reachable to check). So a clip is not sent on Zalo.
    media=frozenset({"photo"}),
    caption_chars=2000,
    window=timedelta(hours=48),
    window_replies=8,  # free consultation messages per 48 h after the learner's message
    outside_window="allowance",
    rate=10.0,
    quota=(
        "8 free replies within 48 h of the learner's message; beyond that proactive messages, "
        "which need a verified OA and count against its monthly allowance"
    ),
)

# The terminal chat shows every choice as a numbered button and has no limits to speak of.
CONSOLE = Capabilities(
    channel="console",
    buttons=100,
    label_chars=200,
    list_rows=0,
    row_chars=0,
    row_description_chars=0,
    text_chars=100_000,
    interactive_chars=100_000,
    media=frozenset({"photo", "document", "audio"}),
    caption_chars=100_000,
    window=None,
    window_replies=None,
    outside_window="anything",
    rate=1000.0,
    quota="local",
)

# The apps learners use; lint checks every lesson against each of these.
CHANNELS: dict[str, Capabilities] = {
    c.channel: c for c in (TELEGRAM, WHATSAPP, LINE, MESSENGER, ZALO)
}


def capabilities(channel: str) -> Capabilities:
    return CHANNELS.get(channel, CONSOLE)
