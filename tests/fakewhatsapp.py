"""Loopback fake of the WhatsApp Cloud API (Meta's Graph API), in both directions.

The product's real HTTP client talks to it: sends and media uploads go to `fake.url` (put it
in WHATSAPP_API_URL). The fake enforces the platform's rules and answers a violation with
Graph's own error shape, so a test fails where real WhatsApp would refuse; it records every
call. It also plays the learners: it posts webhooks to the bot signed as Meta signs them.
See tests/test_fakewhatsapp.py for usage.

The rules, as Meta documents them (developers.facebook.com/documentation/business-messaging/
whatsapp/...: messages/interactive-reply-buttons-messages, messages/interactive-list-messages,
support/error-codes, webhooks/create-webhook-endpoint, webhooks/reference/messages/status):
- reply buttons: 1..3, id <= 256 and title 1..20 characters, both unique; body 1..1024;
  header text and footer <= 60. Lists: button label 1..20; 1..10 sections with at most 10 rows
  in all; row id <= 200 (unique), title 1..24, description <= 72; section title <= 24, needed
  once there are two sections. Text body 1..4096, captions <= 1024.
- every error is {"error": {"message", "type", "code", "error_data": {"details"},
  "fbtrace_id"}}. HTTP statuses follow Meta's error-code table, which differs from what one
  might guess: the throughput (130429) and pair (131056) limits answer 400, not 429; 131000
  answers 500; an unknown template (132001) answers 404, not 400.
- out-of-range values answer 131009 "Parameter value is not valid", which is what Graph sends
  for interactive limits, and missing ones 131008; code 100 is for unsupported or misspelled
  parameters (wrong messaging_product, unknown type, a text body over 4096, a bad media id).
- Meta signs the \\u-escaped JSON it sends; the fake does the same (json.dumps' default).
- Meta says errors come back synchronously, through the status webhook, or both. By default
  the fake refuses 131047/131026 synchronously; errors_via_webhook=True accepts such a message
  (200 and a wamid) and reports it `failed`, with the error, in report_statuses().
- audio (developers.facebook.com/docs/whatsapp/cloud-api/reference/media#supported-media-types
  and .../cloud-api/messages/audio-messages, checked 2026-12-03): uploads of audio/aac,
  audio/amr, audio/mpeg, audio/mp4 or audio/ogg ("OPUS codecs only; base audio/ogg not
  supported"; Meta's refusal names it "audio/ogg; codecs=opus"), at most 16 MB each; an
  `audio` message names one by `id` (or a `link`), carries no caption, and with
  `"voice": true` is a voice message, which must be an Ogg file encoded with Opus. The fake
  tells Opus from Vorbis by the Ogg stream's first packet (an "OpusHead").
Stricter than Meta, on purpose: `to` must be a bare wa_id (Meta also normalises "+1 555..."),
the token only counts in the Authorization header, and only text, interactive button/list,
image, document, audio and template messages are modelled.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

import aiohttp
from aiohttp import web

from tests.fakeplatform import JSON, Call, Fault, GraphFake
from tests.fakeplatform import RawAnswer as _Raw

FaultTarget = Literal["send", "read", "media", "any"]
WINDOW = timedelta(hours=24)  # the customer service window
_VERSION = re.compile(r"v\d+\.\d+")
_WA_ID = re.compile(r"[0-9]{5,20}")
SEND_TYPES = frozenset({"text", "interactive", "image", "document", "audio", "template"})
IMAGE_TYPES = frozenset({"image/jpeg", "image/png"})
OGG_TYPES = frozenset({"audio/ogg", "audio/ogg; codecs=opus"})
AUDIO_TYPES = frozenset({"audio/aac", "audio/amr", "audio/mpeg", "audio/mp4", *OGG_TYPES})
MEDIA_TYPES: dict[str, int] = {  # supported upload type -> its size limit
    "image/jpeg": 5 << 20, "image/png": 5 << 20, "image/webp": 500 << 10,
    "application/pdf": 100 << 20, "text/plain": 100 << 20, "video/mp4": 16 << 20,
    **{audio: 16 << 20 for audio in AUDIO_TYPES},
}  # fmt: skip
# Graph error code -> (HTTP status, title, details), after Meta's error-code table.
ERRORS: dict[int, tuple[int, str, str]] = {
    100: (400, "Invalid parameter", "Unsupported or misspelled parameter."),
    190: (401, "Invalid OAuth access token - Cannot parse access token", ""),
    130429: (400, "Rate limit hit", "Cloud API message throughput has been reached."),
    131000: (500, "Something went wrong", "Message failed to send due to an unknown error."),
    131008: (400, "Required parameter is missing", "A required parameter is missing."),
    131009: (400, "Parameter value is not valid", "One or more parameter values are invalid."),
    131026: (400, "Message undeliverable", "Unable to deliver message."),
    131047: (400, "Re-engagement message", "Message failed to send because more than 24 hours "
             "have passed since the customer last replied to this number."),
    131056: (400, "(Business Account, Consumer Account) pair rate limit hit",
             "Message failed to send because there were too many messages sent from this "
             "phone number to the same phone number in a short period of time."),
    132000: (400, "Number of parameters does not match the expected number of params", ""),
    132001: (404, "Template name does not exist in the translation", ""),
    132018: (400, "There was an issue with the parameters in your template.", "Param text "
             "cannot have new-line/tab characters or more than 4 consecutive spaces"),
}  # fmt: skip


class GraphError(Exception):
    """A refusal, answered as Graph answers it."""

    def __init__(
        self, code: int, details: str = "", *, status: int | None = None,
        message: str | None = None, retry_after: int | None = None,
    ) -> None:  # fmt: skip
        known = ERRORS.get(code, (400, "Error", ""))
        self.code, self.status, self.retry_after = code, status or known[0], retry_after
        self.message = message or (known[1] if code == 190 else f"(#{code}) {known[1]}")
        self.details = details or known[2]
        super().__init__(f"{self.message}: {self.details}")

    def error(self, trace: str) -> JSON:
        err: JSON = {"message": self.message, "type": "OAuthException", "code": self.code}
        if self.details:
            err["error_data"] = {"messaging_product": "whatsapp", "details": self.details}
        return {**err, "fbtrace_id": trace}


@dataclass
class Sent:
    """A message the fake accepted (and, unless reported otherwise, delivered)."""

    wamid: str
    to: str
    body: JSON
    time: datetime

    @property
    def type(self) -> str:
        return str(self.body["type"])

    @property
    def text(self) -> str:
        return visible_text(self.body)


@dataclass
class Rejected:
    body: Any
    to: Any  # the body's "to", whatever it was
    status: int
    error: JSON  # the Graph "error" object, or {"raw": text} for fail_next_raw()
    time: datetime
    wamid: str | None = None  # errors_via_webhook: accepted, to be reported failed


@dataclass
class Upload:
    media_id: str
    mime_type: str
    filename: str | None
    data: bytes
    time: datetime

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


def visible_text(body: JSON) -> str:
    """What the learner reads: a text, an interactive body, a caption, or "[template] a | b"."""
    kind = body.get("type")
    if kind == "text":
        return str(body["text"]["body"])
    if kind == "interactive":
        return str(body["interactive"]["body"]["text"])
    if kind in ("image", "document"):
        return str(body[kind].get("caption", ""))
    if kind == "template":
        params = [p.get("text", "") for p in _body_params(body["template"])]
        return f"[{body['template']['name']}] " + " | ".join(map(str, params))
    return ""


def _body_params(template: JSON) -> list[JSON]:
    comps = [c for c in template.get("components") or [] if c.get("type") == "body"]
    return list(comps[0].get("parameters") or []) if comps else []


def _length(value: Any, path: str, low: int, high: int) -> str:
    if value is None and low > 0:
        raise GraphError(131008, f"Parameter {path} is required.")
    if not isinstance(value, str):
        raise GraphError(100, f"Param {path} must be a string.")
    if not low <= len(value) <= high:
        raise GraphError(131009, f"{path} length invalid. Min length: {low}, Max length: {high}")
    return value


def _dict(value: Any, path: str) -> JSON:
    if value is None:
        raise GraphError(131008, f"Parameter {path} is required.")
    if not isinstance(value, dict):
        raise GraphError(100, f"Param {path} must be an object.")
    return value


def _unique(values: list[str], what: str) -> None:
    if len(set(values)) != len(values):
        raise GraphError(131009, f"{what} must be unique within the message.")


def _options(body: JSON) -> list[tuple[str, JSON]]:
    """The tappable choices of an accepted interactive message, as their webhook replies."""
    inter, action = body["interactive"], body["interactive"]["action"]
    if inter["type"] == "button":
        return [("button_reply", {"id": b["reply"]["id"], "title": b["reply"]["title"]})
                for b in action["buttons"]]  # fmt: skip
    rows = [r for s in action["sections"] for r in s["rows"]]
    return [("list_reply", {k: r[k] for k in ("id", "title", "description") if r.get(k)})
            for r in rows]  # fmt: skip


class FakeCloudApi(GraphFake):
    def __init__(
        self, *, token: str = "test-token", phone_number_id: str = "106540352242922",
        display_phone_number: str = "15550783881", waba_id: str = "102290129340398",
        app_secret: str = "test-app-secret", webhook_url: str = "",
        templates: Mapping[tuple[str, str], int | tuple[int, str]] | None = None,
        start: datetime | None = None, errors_via_webhook: bool = False,
    ) -> None:  # fmt: skip
        self._setup()
        self.token, self.phone_number_id, self.waba_id = token, phone_number_id, waba_id
        self.display_phone_number, self.app_secret = display_phone_number, app_secret
        self.webhook_url = webhook_url  # the bot's, e.g. http://127.0.0.1:<port>/whatsapp
        # (name, language code) -> (body parameters, category): the approved templates
        self.templates: dict[tuple[str, str], tuple[int, str]] = {
            k: v if isinstance(v, tuple) else (v, "UTILITY") for k, v in (templates or {}).items()
        }
        self.errors_via_webhook = errors_via_webhook
        self.url = ""
        self.calls: list[Call] = []
        self.sent: list[Sent] = []
        self.rejected: list[Rejected] = []
        self.uploads: list[Upload] = []
        self.reads: list[str] = []  # wamids the bot marked as read
        self.received: list[JSON] = []  # the user messages posted to the bot
        self._start_clock(start)
        self._last_wrote: dict[str, datetime] = {}  # wa_id -> when the user last wrote
        self._names: dict[str, str] = {}
        self._blocked: set[str] = set()
        self._recipients: dict[str, str] = {}  # wamid -> wa_id, for status reports
        self._last_delivery: bytes | None = None

    # -- lifecycle -------------------------------------------------------------------
    def _app(self) -> web.Application:
        app = web.Application(client_max_size=128 << 20)  # documents may be 100 MB
        app.router.add_route("*", "/{version}/{node}/{edge}", self._handle)
        return app

    # -- the clock and the window ------------------------------------------------------
    def advance(self, *, days: float = 0, hours: float = 0, minutes: float = 0,
                seconds: float = 0) -> None:  # fmt: skip
        """Move time on, so a test can leave the window without sleeping."""
        self._clock += timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)

    def wrote_at(self, wa_id: str, when: datetime) -> None:
        """As if the user's last message had come at `when` (it opens the window then)."""
        self._last_wrote[wa_id] = when

    def window_open(self, wa_id: str) -> bool:
        wrote = self._last_wrote.get(wa_id)
        return wrote is not None and self.now() - wrote <= WINDOW

    # -- behaviour control -----------------------------------------------------------
    def fail_next(
        self, code: int, *, times: int = 1, to: str | None = None,
        http_status: int | None = None, retry_after: int | None = None,
        on: FaultTarget = "send",
    ) -> None:  # fmt: skip
        """Refuse the next `times` valid sends (to `to`, if given) with Graph error `code`,
        answered with Meta's HTTP status for it unless `http_status`; `retry_after` adds
        that header. `on` picks what fails: sends (not mark-as-read), reads, uploads, any."""
        error = GraphError(code, status=http_status, retry_after=retry_after)
        self._faults.append(Fault(on, times, to, error=error))

    def fail_next_raw(
        self, status: int, body: str, content_type: str = "text/html", *, times: int = 1,
        on: FaultTarget = "send",
    ) -> None:  # fmt: skip
        """Answer the next `times` requests with this raw body instead: an HTML 502 from a
        proxy, a 200 that is not JSON."""
        self._faults.append(Fault(on, times, raw=_Raw(status, body, content_type)))

    def block(self, wa_id: str) -> None:
        """The learner blocked the business. Meta never says so; messages are undeliverable."""
        self._blocked.add(wa_id)

    def unblock(self, wa_id: str) -> None:
        self._blocked.discard(wa_id)

    # -- inspection ------------------------------------------------------------------
    def messages_to(self, wa_id: str) -> list[Sent]:
        return [s for s in self.sent if s.to == wa_id]

    def texts_to(self, wa_id: str) -> list[str]:
        return [s.text for s in self.messages_to(wa_id)]

    # -- HTTP: the Cloud API side ------------------------------------------------------
    async def _handle(self, request: web.Request) -> web.Response:
        call = Call(request.method, request.path, dict(request.headers), self.now())
        self.calls.append(call)
        target: FaultTarget = "media" if request.match_info["edge"] == "media" else "send"
        trace = f"A{next(self._counter):010d}fake"
        extra: dict[str, str] = {}
        raw: _Raw | None = None
        try:
            self._check_route(request)
            if target == "media":
                call.response = await self._upload(request, call)
            else:
                call.json = await self._read_json(request)
                target = "read" if call.json.get("status") == "read" else "send"
                call.response = self._read(call.json) if target == "read" else self._send(call.json)
        except GraphError as e:
            call.status, call.response = e.status, {"error": e.error(trace)}
            if e.retry_after is not None:
                extra["Retry-After"] = str(e.retry_after)
        except _Raw as e:
            raw, call.status, call.response = e, e.status, e.body
        except (AttributeError, KeyError, TypeError) as e:  # a list where Graph wants an object
            bad = GraphError(100, f"Malformed parameter: {e!r}")
            call.status, call.response = bad.status, {"error": bad.error(trace)}
        if target == "send" and (call.status != 200 or raw is not None):
            error = {"raw": raw.body} if raw else call.response["error"]
            to = call.json.get("to") if isinstance(call.json, dict) else None
            self.rejected.append(Rejected(call.json, to, call.status, error, self.now()))
        if raw is not None:
            return raw.response()
        return web.json_response(call.response, status=call.status, headers=extra)

    def _check_route(self, request: web.Request) -> None:
        if request.headers.get("Authorization") != f"Bearer {self.token}":
            raise GraphError(190)
        version, node = request.match_info["version"], request.match_info["node"]
        if not _VERSION.fullmatch(version):
            raise GraphError(2500, message=f"Unknown path components: /{version}")
        routed = request.match_info["edge"] in ("messages", "media") and request.method == "POST"
        if node != self.phone_number_id or not routed:
            raise GraphError(100, f"Unsupported {request.method.lower()} request. Object with ID "
                             f"'{node}' does not exist, cannot be loaded due to missing "
                             "permissions, or does not support this operation")  # fmt: skip

    @staticmethod
    async def _read_json(request: web.Request) -> JSON:
        if request.content_type != "application/json":
            raise GraphError(100, "The fake expects a JSON body (Content-Type: application/json).")
        try:
            body = await request.json()
        except ValueError:
            raise GraphError(100, "The request body is not valid JSON.") from None
        if not isinstance(body, dict):
            raise GraphError(100, "The request body must be a JSON object.")
        if body.get("messaging_product") != "whatsapp":
            raise GraphError(100, "The parameter messaging_product is required.")
        return body

    def _read(self, body: JSON) -> JSON:
        if body.get("message_id") not in {m["id"] for m in self.received}:
            raise GraphError(100, "Param message_id is not the id of a message a user sent.")
        self._take_fault("read", None)
        self.reads.append(body["message_id"])
        return {"success": True}

    def _send(self, body: JSON) -> JSON:
        to = body.get("to")
        if not isinstance(to, str) or not _WA_ID.fullmatch(to):
            raise GraphError(100, "Param to must be a WhatsApp ID: digits only, no '+'.")
        kind = body.get("type", "text")
        if kind not in SEND_TYPES:
            raise GraphError(100, f"Param type must be one of {sorted(SEND_TYPES)}.")
        body = {**body, "type": kind}
        category = self._check_template(body) if kind == "template" else None
        if kind == "text":
            text = _dict(body.get("text"), "text")
            if not isinstance(text.get("body"), str) or not 1 <= len(text["body"]) <= 4096:
                raise GraphError(100, "Param text['body'] must be 1 to 4096 characters long.")
        elif kind == "interactive":
            self._check_interactive(_dict(body.get("interactive"), "interactive"))
        elif kind in ("image", "document", "audio"):
            self._check_media(kind, _dict(body.get(kind), kind))
        self._take_fault("send", to)
        wamid = self._wamid("out")
        late: GraphError | None = None
        if to in self._blocked:
            late = GraphError(131026)
        elif category is None and not self.window_open(to):
            late = GraphError(131047)
        if late is not None and not self.errors_via_webhook:
            raise late
        self._recipients[wamid] = to
        if late is not None:
            error = late.error("async")
            self.rejected.append(Rejected(body, to, 200, error, self.now(), wamid))
        else:
            self.sent.append(Sent(wamid, to, body, self.now()))
        message: JSON = {"id": wamid} if category is None else {
            "id": wamid, "message_status": "accepted"}  # fmt: skip
        return {"messaging_product": "whatsapp", "contacts": [{"input": to, "wa_id": to}],
                "messages": [message]}  # fmt: skip

    def _check_template(self, body: JSON) -> str:
        template = _dict(body.get("template"), "template")
        name, code = template.get("name"), _dict(template.get("language"), "language").get("code")
        spec = self.templates.get((str(name), str(code)))
        if spec is None:
            raise GraphError(132001, f"template name ({name}) does not exist in {code}")
        params = _body_params(template)
        if len(params) != spec[0]:
            raise GraphError(132000, f"body: number of localizable_params ({len(params)}) does "
                             f"not match the expected number of params ({spec[0]})")  # fmt: skip
        for p in params:
            text = p.get("text") if p.get("type") == "text" else "x"
            if not isinstance(text, str) or not text:
                raise GraphError(131008, "Each text parameter needs a non-empty text.")
            if re.search(r"[\n\t]| {5}", text):
                raise GraphError(132018)
        return spec[1]

    def _check_interactive(self, inter: JSON) -> None:
        kind = inter.get("type")
        if kind not in ("button", "list"):
            raise GraphError(100, "Param interactive['type'] must be button or list here.")
        _length(_dict(inter.get("body"), "body").get("text"), "Body text", 1, 1024)
        if (header := inter.get("header")) is not None:
            if _dict(header, "header").get("type") == "text":
                _length(header.get("text"), "Header text", 1, 60)
            elif kind == "list" or header.get("type") not in ("image", "document", "video"):
                raise GraphError(131009, "Header type invalid for this interactive message.")
        if (footer := inter.get("footer")) is not None:
            _length(_dict(footer, "footer").get("text"), "Footer text", 1, 60)
        action = _dict(inter.get("action"), "action")
        if kind == "button":
            buttons = action.get("buttons")
            if not isinstance(buttons, list) or not 1 <= len(buttons) <= 3:
                raise GraphError(131009, "Number of buttons invalid. Min: 1, Max: 3")
            for b in buttons:
                if _dict(b, "button").get("type") != "reply":
                    raise GraphError(131009, "Button type must be reply.")
                reply = _dict(b.get("reply"), "reply")
                _length(reply.get("id"), "Button id", 1, 256)
                _length(reply.get("title"), "Button title", 1, 20)
            _unique([b["reply"]["id"] for b in buttons], "Button ids")
            _unique([b["reply"]["title"] for b in buttons], "Button titles")
            return
        _length(action.get("button"), "List button", 1, 20)
        sections = action.get("sections")
        if not isinstance(sections, list) or not 1 <= len(sections) <= 10:
            raise GraphError(131009, "Number of sections invalid. Min: 1, Max: 10")
        for s in sections:
            if _dict(s, "section").get("title") is not None or len(sections) > 1:
                _length(s.get("title"), "Section title", 1, 24)
            if not isinstance(s.get("rows"), list) or not s["rows"]:
                raise GraphError(131009, "Each section needs at least one row.")
        rows = [_dict(r, "row") for s in sections for r in s["rows"]]
        if len(rows) > 10:
            raise GraphError(131009, "Total row count exceed max allowed count: 10")
        for r in rows:
            _length(r.get("id"), "Row id", 1, 200)
            _length(r.get("title"), "Row title", 1, 24)
            if r.get("description") is not None:
                _length(r["description"], "Row description", 0, 72)
        _unique([r["id"] for r in rows], "Row ids")

    def _check_media(self, kind: str, media: JSON) -> None:
        if ("id" in media) == ("link" in media):
            raise GraphError(131008, f"Param {kind} needs exactly one of id or link.")
        if "id" in media:
            upload = next((u for u in self.uploads if u.media_id == media["id"]), None)
            if upload is None:
                raise GraphError(100, f"Param {kind}['id'] is not a valid media ID.")
            if kind == "image" and upload.mime_type not in IMAGE_TYPES:
                raise GraphError(100, f"Media {media['id']} is {upload.mime_type}, not an image.")
            if kind == "audio" and upload.mime_type not in AUDIO_TYPES:
                raise GraphError(100, f"Media {media['id']} is {upload.mime_type}, not audio.")
            if media.get("voice") is True and upload.mime_type not in OGG_TYPES:
                raise GraphError(131009, "A voice message must be an Ogg file encoded with "
                                 f"Opus; media {media['id']} is {upload.mime_type}.")  # fmt: skip
        elif not re.match(r"https?://", str(media["link"])):
            raise GraphError(100, f"Param {kind}['link'] must be an http(s) URL.")
        if kind == "audio":
            if "caption" in media:
                raise GraphError(100, "Param audio['caption'] is not supported: audio messages "
                                 "carry no caption.")  # fmt: skip
            if not isinstance(media.get("voice", False), bool):
                raise GraphError(100, "Param audio['voice'] must be a boolean.")
        if media.get("caption") is not None:
            _length(media["caption"], "Caption", 0, 1024)
        if kind == "document" and media.get("filename") is not None:
            _length(media["filename"], "Filename", 1, 240)

    async def _upload(self, request: web.Request, call: Call) -> JSON:
        if not request.content_type.startswith("multipart/"):
            raise GraphError(100, "Media must be uploaded as multipart/form-data.")
        form = await request.post()
        call.form = {k: v for k, v in form.items() if isinstance(v, str)}
        if call.form.get("messaging_product") != "whatsapp":
            raise GraphError(100, "The parameter messaging_product is required.")
        file, mime = form.get("file"), call.form.get("type")
        if not isinstance(file, web.FileField):
            raise GraphError(100, "The parameter file is required.")
        if mime not in MEDIA_TYPES:
            raise GraphError(100, "Param file must be a file with one of the following types: "
                             + ", ".join(MEDIA_TYPES))  # fmt: skip
        data = file.file.read()
        if not data or len(data) > MEDIA_TYPES[mime]:
            raise GraphError(131009, f"{mime} files must be 1 to {MEDIA_TYPES[mime]} bytes.")
        if mime in OGG_TYPES and not (data.startswith(b"OggS") and b"OpusHead" in data[:64]):
            raise GraphError(100, "Param file must be a file with one of the following "
                             "types: audio/ogg; codecs=opus (base audio/ogg is not "
                             "supported).")  # fmt: skip
        self._take_fault("media", None)
        media_id = str(1_000_000_000_000_000 + next(self._counter))
        self.uploads.append(Upload(media_id, mime, file.filename, data, self.now()))
        return {"id": media_id}

    def _wamid(self, direction: str) -> str:
        raw = f"{direction}:{next(self._counter)}:{self.phone_number_id}".encode()
        return "wamid." + base64.b64encode(raw).decode().rstrip("=")

    # -- webhooks: the users' side ---------------------------------------------------
    def _envelope(self, value: JSON) -> JSON:
        metadata = {"display_phone_number": self.display_phone_number,
                    "phone_number_id": self.phone_number_id}  # fmt: skip
        change = {"value": {"messaging_product": "whatsapp", "metadata": metadata, **value},
                  "field": "messages"}  # fmt: skip
        return {"object": "whatsapp_business_account",
                "entry": [{"id": self.waba_id, "changes": [change]}]}  # fmt: skip

    def _from_user(self, wa_id: str, message: JSON, name: str | None) -> JSON:
        """The webhook carrying the user's `message`, with from, id and timestamp added."""
        if not _WA_ID.fullmatch(wa_id):
            raise AssertionError(f"{wa_id!r} is not a wa_id (digits only)")
        self._names[wa_id] = name or self._names.get(wa_id, "Test User")
        msg = {"from": wa_id, "id": self._wamid("in"),
               "timestamp": str(int(self.now().timestamp())), **message}  # fmt: skip
        self._last_wrote[wa_id] = self.now()  # opens (or renews) the 24-hour window
        self.received.append(msg)
        contact = {"profile": {"name": self._names[wa_id]}, "wa_id": wa_id}
        return self._envelope({"contacts": [contact], "messages": [msg]})

    async def user_sends(self, wa_id: str, message: JSON, *, name: str | None = None) -> int:
        """The user sends `message` ({"type": "sticker", "sticker": {...}}, a location, a
        reaction, {"type": "unsupported", ...}); the fake adds from, id and timestamp."""
        return await self._deliver(self._from_user(wa_id, message, name))

    async def user_sends_retried(self, wa_id: str, text: str, *, every: float = 0.1) -> None:
        """The user sends `text`, delivered as Meta does: the same body again and again, until
        the bot answers 200 (also while the bot is down or restarting)."""
        envelope = self._from_user(wa_id, {"type": "text", "text": {"body": text}}, None)
        body = json.dumps(envelope, separators=(",", ":")).encode()
        while True:
            try:
                if await self.post_raw(body, self.sign(body)) == 200:
                    return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(every)

    async def user_sends_text(self, wa_id: str, text: str, *, name: str | None = None) -> int:
        return await self.user_sends(wa_id, {"type": "text", "text": {"body": text}}, name=name)

    async def user_sends_image(self, wa_id: str, caption: str = "") -> int:
        image: JSON = {"mime_type": "image/jpeg", "id": str(2_000_000_000 + next(self._counter))}
        image["sha256"] = base64.b64encode(hashlib.sha256(image["id"].encode()).digest()).decode()
        if caption:
            image["caption"] = caption
        return await self.user_sends(wa_id, {"type": "image", "image": image})

    async def user_taps(self, wa_id: str, title_or_id: str) -> int:
        """Press a reply button or list row of the last interactive message sent to wa_id."""
        interactive = [s for s in self.messages_to(wa_id) if s.type == "interactive"]
        if not interactive:
            raise AssertionError(f"no interactive message was sent to {wa_id}")
        return await self._tap(wa_id, interactive[-1], title_or_id)

    async def user_taps_stale(self, wa_id: str, message_index: int, title: str) -> int:
        """Press a button of an older message, messages_to(wa_id)[message_index]: WhatsApp
        keeps old buttons tappable."""
        return await self._tap(wa_id, self.messages_to(wa_id)[message_index], title)

    async def _tap(self, wa_id: str, sent: Sent, choice: str) -> int:
        if sent.type != "interactive":
            raise AssertionError(f"message {sent.wamid} to {wa_id} has no buttons: {sent.text!r}")
        options = _options(sent.body)
        match = next((o for o in options if o[1]["id"] == choice), None) or next(
            (o for o in options if o[1]["title"] == choice), None
        )
        if match is None:
            titles = [o[1]["title"] for o in options]
            raise AssertionError(f"{choice!r} is not on message {sent.wamid} to {wa_id}: {titles}")
        kind, reply = match
        context = {"from": self.display_phone_number, "id": sent.wamid}
        message = {"context": context, "type": "interactive",
                   "interactive": {"type": kind, kind: reply}}  # fmt: skip
        return await self.user_sends(wa_id, message)

    def status_entry(self, wamid: str, status: str, *, error_code: int = 131026) -> JSON:
        """A `statuses` entry for a message the fake answered; failed ones carry errors."""
        entry: JSON = {"id": wamid, "status": status,
                       "timestamp": str(int(self.now().timestamp())),
                       "recipient_id": self._recipients[wamid]}  # fmt: skip
        if status == "failed":
            _, title, details = ERRORS.get(error_code, (400, "Error", ""))
            entry["errors"] = [{"code": error_code, "title": title, "message": title,
                                "error_data": {"details": details}}]  # fmt: skip
        return entry

    async def post_statuses(self, *entries: JSON) -> int:
        return await self._deliver(self._envelope({"statuses": list(entries)}))

    async def report_statuses(self, status: str = "delivered", *, to: str | None = None) -> int:
        """One webhook with `status` for every accepted message (to `to`), and `failed`, with
        its error, for each one errors_via_webhook accepted but could not deliver."""
        entries = [self.status_entry(s.wamid, status) for s in self.sent if to in (None, s.to)]
        entries += [self.status_entry(r.wamid, "failed", error_code=r.error["code"])
                    for r in self.rejected if r.wamid and to in (None, r.to)]  # fmt: skip
        if not entries:
            raise AssertionError("no message to report a status for")
        return await self.post_statuses(*entries)
