"""The `lessonbot` command (also `python -m bot`).

Heavy imports (SQLAlchemy, the Telegram frameworks) happen inside the commands that need them,
so `lint` starts fast.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import getpass
import json
import logging
import signal
import sys
from collections.abc import Callable, Coroutine, Sequence
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot import __version__
from bot.errors import LessonBotError
from bot.redact import redact_logs

if TYPE_CHECKING:
    from bot.config import Settings


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"`{text}` is not a date like 2027-01-31") from None


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="lessonbot", description=__doc__.splitlines()[0])
    parser.add_argument("-v", "--verbose", action="store_true", help="log more detail")
    parser.add_argument("--version", action="version", version=f"lessonbot {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    chat = sub.add_parser("chat", help="talk to the bot in the terminal")
    chat.add_argument("--learner", default=None, help="learner name (default: your user name)")
    chat.add_argument("--lang", default=None, help="language code, e.g. th")

    lint = sub.add_parser("lint", help="check lessons for mistakes")
    lint.add_argument(
        "paths",
        nargs="*",
        metavar="PATH",
        help="folders or files (default: LESSONS_DIR and LOCALES_DIR)",
    )
    lint.add_argument("--format", choices=("text", "json"), default="text")

    sub.add_parser("schema", help="print the JSON Schema of lesson files")
    run = sub.add_parser("run", help="serve every configured channel (Telegram, WhatsApp)")
    run.add_argument(
        "--no-worker",
        action="store_true",
        help="don't send broadcasts from this process (run `lessonbot worker`)",
    )
    sub.add_parser("worker", help="send due broadcasts (the Procfile's worker process)")

    broadcast = sub.add_parser("broadcast", help="send and inspect admin broadcasts")
    b_sub = broadcast.add_subparsers(dest="broadcast_command", required=True, metavar="ACTION")
    send = b_sub.add_parser("send", help="queue a broadcast file and deliver it now")
    send.add_argument("file", type=Path)
    send.add_argument(
        "--segment",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="narrow the audience: channel=whatsapp locale=th,en country=TH enrolled=COURSE "
        "completed=COURSE active_within_days=30 tags=a,b",
    )
    send.add_argument("--at", help="HH:MM in each learner's own time, or an ISO time with offset")
    send.add_argument("--dry-run", action="store_true", help="show the audience; send nothing")
    send.add_argument("--yes", action="store_true", help="don't ask for confirmation")
    b_sub.add_parser("list", help="all broadcasts with their progress")
    show = b_sub.add_parser("status", help="counts, failure reasons and a CSV of failures")
    show.add_argument("id", type=int)
    again = b_sub.add_parser("resume", help="continue sending after a crash or a stop")
    again.add_argument("id", type=int, nargs="?")
    stop = b_sub.add_parser("cancel", help="stop a broadcast; unsent messages are skipped")
    stop.add_argument("id", type=int)

    admins = sub.add_parser("admins", help="who may use /broadcast and /stats (audited)")
    a_sub = admins.add_subparsers(dest="admins_command", required=True, metavar="ACTION")
    a_sub.add_parser("list", help="every admin, and who granted it when")
    for name, text in (("grant", "make a Telegram user an admin"), ("revoke", "take it away")):
        change = a_sub.add_parser(name, help=text)
        change.add_argument("user", metavar="USER_ID", help="the Telegram user id (a number)")

    report = sub.add_parser("report", help="impact report: HTML with charts, plus CSV")
    report.add_argument(
        "--out",
        type=Path,
        default=Path("report"),
        help="folder to write report.html and the CSV files to (default: report)",
    )
    report.add_argument(
        "--channel",
        metavar="NAME",
        help="only the learners of one channel: telegram, whatsapp, line, messenger, zalo "
        "or console",
    )
    report.add_argument(
        "--from",
        dest="start",
        type=_date,
        metavar="DATE",
        help="only learners who first wrote on or after DATE (YYYY-MM-DD, UTC)",
    )
    report.add_argument(
        "--to",
        dest="end",
        type=_date,
        metavar="DATE",
        help="only learners who first wrote on or before DATE (YYYY-MM-DD, UTC)",
    )
    report.add_argument(
        "--programme", default="", metavar="NAME", help="the programme's name, for the title"
    )
    report.add_argument(
        "--costs",
        type=Path,
        metavar="FILE",
        help="a YAML file of the programme's costs, for the cost per result (docs/report.md)",
    )
    report.add_argument(
        "--excel",
        action="store_true",
        help="write the CSV files with a byte-order mark, so Excel reads them as UTF-8",
    )
    demo = sub.add_parser("demo-data", help="fill a new database with demo learners")
    demo.add_argument("--learners", type=int, required=True, metavar="N")
    demo.add_argument("--seed", type=int, default=1, help="same seed, same data (default: 1)")
    demo.add_argument(
        "--effect",
        type=float,
        default=0.10,
        metavar="SHARE",
        help="the encouraged arm's extra share selling online, the effect a report should "
        "find (default: 0.10; 0 for none)",
    )
    demo.add_argument(
        "--force",
        action="store_true",
        help="even if the database holds real learners (their reports then mix)",
    )

    db = sub.add_parser("db", help="database tasks")
    db_sub = db.add_subparsers(dest="db_command", required=True, metavar="TASK")
    db_sub.add_parser("upgrade", help="apply migrations")
    down = db_sub.add_parser("downgrade", help="undo migrations down to a revision")
    down.add_argument(
        "revision", help='a revision id such as 0003, "-1" for the last one, or "base" for none'
    )
    db_sub.add_parser("current", help="print the revision the database is at")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    scrub: Callable[[str], str] = str
    try:
        from bot.config import Settings

        settings = Settings.load()
        scrub = redact_logs(settings.bot_token, settings.webhook_secret).scrub
        return _dispatch(args, settings)
    except LessonBotError as exc:
        print(f"lessonbot: {scrub(str(exc))}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def _dispatch(args: argparse.Namespace, settings: Settings) -> int:
    if args.command == "lint":
        from bot.lint import lint, report

        # The content folders are checked even when missing: finding nothing is an error, not
        # a pass. Broadcasts are optional.
        paths = args.paths or [
            settings.lessons_dir,
            settings.locales_dir,
            *(
                optional
                for optional in (settings.broadcasts_dir, settings.whatsapp_templates)
                if Path(optional).exists()
            ),
        ]
        problems, coverage = lint(paths, settings.lessons_dir)
        return report(problems, args.format, sys.stdout, sys.stderr, coverage)
    if args.command == "schema":
        from bot.broadcast.message import BroadcastFile
        from bot.content.model import json_schema

        print(json.dumps(json_schema(BroadcastFile), indent=2))
        return 0
    if args.command in ("chat", "run", "worker"):
        from bot.app import require_content

        require_content(settings)
    if args.command == "chat":
        asyncio.run(_chat(settings, args.learner or getpass.getuser(), args.lang))
        return 0
    if args.command == "run":
        from bot.channels.runner import check_settings, serve

        check_settings(settings)  # before any import or database work, so the message is quick
        _run_until_signal(serve(settings, worker=not args.no_worker))
        return 0
    if args.command == "worker":
        from bot.channels.runner import check_settings, work

        check_settings(settings)
        _run_until_signal(work(settings))
        return 0
    if args.command == "broadcast":
        return _broadcast(args, settings)
    if args.command == "admins":
        from bot.store.admin_commands import admins

        return asyncio.run(admins(settings, args.admins_command, getattr(args, "user", None)))
    if args.command in ("report", "demo-data"):
        from bot.report import commands as reporting

        if args.command == "report":
            from bot.report.programme import Period

            period = Period(args.start, args.end)
            return asyncio.run(
                reporting.report(
                    settings,
                    args.out,
                    args.channel,
                    period=period,
                    programme=args.programme,
                    costs=args.costs,
                    excel=args.excel,
                )
            )
        return asyncio.run(
            reporting.demo_data(settings, args.learners, args.seed, args.force, args.effect)
        )
    if args.command == "db":
        return asyncio.run(_db(settings, args.db_command, getattr(args, "revision", None)))
    raise AssertionError(args.command)


def _broadcast(args: argparse.Namespace, settings: Any) -> int:
    from bot.broadcast import commands

    action = args.broadcast_command
    if action == "send":
        return asyncio.run(
            commands.send(settings, args.file, args.segment, args.at, args.dry_run, args.yes)
        )
    if action == "list":
        return asyncio.run(commands.show_list(settings))
    if action == "status":
        return asyncio.run(commands.show_status(settings, args.id))
    if action == "resume":
        return asyncio.run(commands.resume(settings, args.id))
    return asyncio.run(commands.cancel(settings, args.id))


def _run_until_signal(main: Coroutine[Any, Any, None]) -> None:
    """Run `main`, cancelling it cleanly on SIGTERM (what Procfile platforms send) or Ctrl-C."""

    async def runner() -> None:
        task = asyncio.ensure_future(main)
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, task.cancel)
        with contextlib.suppress(asyncio.CancelledError):
            await task

    asyncio.run(runner())


async def _chat(settings: object, learner: str, lang: str | None) -> None:
    from bot.app import build_service, open_database
    from bot.channels.console import chat
    from bot.config import Settings
    from bot.store import Identity

    assert isinstance(settings, Settings)
    engine = await open_database(settings)
    try:
        service = build_service(settings, engine)
        if lang and lang not in service.languages:
            raise LessonBotError(f"no locale `{lang}`; shipped: {', '.join(service.languages)}")
        who = Identity(
            "console", learner, first_name=learner, language=lang or "", language_chosen=bool(lang)
        )
        await chat(service, who)
    finally:
        await engine.dispose()


async def _db(settings: object, task: str, revision: str | None) -> int:
    from alembic.util import CommandError

    from bot.config import Settings
    from bot.store import create_engine, upgrade
    from bot.store.db import current_revision, downgrade

    assert isinstance(settings, Settings)
    engine = create_engine(settings.database_url)
    try:
        if task == "upgrade":
            await upgrade(engine)
            print("database is up to date")
        elif task == "downgrade":
            assert revision is not None
            await downgrade(engine, revision)
            now = await current_revision(engine)
            print(f"database is at revision {now}" if now else "database has no revision now")
        else:
            now = await current_revision(engine)
            print(now or "database has no revision yet (run `lessonbot db upgrade`)")
        return 0
    except CommandError as exc:  # e.g. an unknown revision: say so, without a traceback
        raise LessonBotError(f"db {task}: {exc}") from exc
    finally:
        await engine.dispose()
