"""Write transactions: a job is a plain function of a sync `Connection`, run where it is best.

- SQLite has one writer at a time. One thread owns the write connection and commits the jobs
  that arrive together in one `BEGIN IMMEDIATE ... COMMIT` (group commit). A job that fails
  fails alone (see `_commit`); a failed COMMIT fails the group, and nothing of it is saved.
  A job's caller resumes only after the commit, so nothing is replied before it is saved.
  This takes the per-statement hops between the event loop and aiosqlite's thread off the hot
  path (about 20 per update), and every learner's update no longer waits in line for its own
  transaction. Two jobs of one learner never interleave: they run one after the other.
- PostgreSQL takes many writers at once: each job is its own transaction on the async engine,
  with row locks (`FOR UPDATE`) keeping one learner's updates apart across processes.

Reads stay on the async engine: in WAL mode they never wait for the writer.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import threading
import weakref
from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy import create_engine as create_sync_engine
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.pool import NullPool

from bot.errors import StoreError
from bot.store.db import configure_sqlite

log = logging.getLogger(__name__)
T = TypeVar("T")
Job = Callable[[Connection], T]

MAX_GROUP = 100  # jobs per transaction: enough to amortise a COMMIT, short enough to stay fair
IDLE_EXIT = 2.0  # seconds: an idle writer closes its connection and thread; the next job reopens


async def transact(engine: AsyncEngine, job: Job[T]) -> T:
    """Run `job` in a write transaction on `engine`'s database; raise StoreError if it fails."""
    if engine.dialect.name == "sqlite":
        return await _writer_for(engine).run(job)
    try:
        async with engine.begin() as conn:
            return await conn.run_sync(job)
    except DBAPIError as exc:
        raise StoreError(f"database error while saving: {exc.orig}") from exc


async def write(engine: AsyncEngine, statement: Any, params: Any = None) -> None:
    """One statement as its own write job (a status, a delivery record)."""
    await transact(engine, lambda conn: conn.execute(statement, params))


_writers: weakref.WeakKeyDictionary[AsyncEngine, _SqliteWriter] = weakref.WeakKeyDictionary()
_writers_lock = threading.Lock()


def _writer_for(engine: AsyncEngine) -> _SqliteWriter:
    with _writers_lock:
        writer = _writers.get(engine)
        if writer is None:
            writer = _writers[engine] = _SqliteWriter(engine)
        return writer


class _Entry:
    __slots__ = ("future", "job", "loop")

    def __init__(self, job: Job[Any], loop: asyncio.AbstractEventLoop) -> None:
        self.job = job
        self.loop = loop
        self.future: asyncio.Future[Any] = loop.create_future()

    def settle(self, result: Any = None, error: BaseException | None = None) -> None:
        def apply() -> None:
            if self.future.done():  # the caller gave up (cancelled); the work stands or fell
                return
            if error is not None:
                self.future.set_exception(error)
            else:
                self.future.set_result(result)

        with contextlib.suppress(RuntimeError):  # the loop is closed: nobody waits any more
            self.loop.call_soon_threadsafe(apply)


class _SqliteWriter:
    def __init__(self, engine: AsyncEngine) -> None:
        url = engine.url.set(drivername="sqlite")
        self._engine: Engine = create_sync_engine(
            url,
            connect_args={"timeout": 30, "check_same_thread": False},
            poolclass=NullPool,
            hide_parameters=True,
        )
        configure_sqlite(self._engine)
        self._queue: queue.SimpleQueue[_Entry] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    async def run(self, job: Job[T]) -> T:
        entry = _Entry(job, asyncio.get_running_loop())
        self._queue.put(entry)
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._serve, name="sqlite-writer", daemon=True
                )
                self._thread.start()
        result: T = await entry.future
        return result

    def _serve(self) -> None:
        try:
            with self._engine.connect() as conn:
                while True:
                    try:
                        first = self._queue.get(timeout=IDLE_EXIT)
                    except queue.Empty:
                        with self._lock:
                            if self._queue.empty():
                                self._thread = None
                                return
                        continue
                    group = [first]
                    while len(group) < MAX_GROUP:
                        try:
                            group.append(self._queue.get_nowait())
                        except queue.Empty:
                            break
                    self._commit(conn, group)
        except BaseException as exc:  # the connection itself failed: fail who is waiting
            log.exception("the SQLite writer stopped")
            with self._lock:
                self._thread = None
            while True:
                try:
                    self._queue.get_nowait().settle(error=StoreError(str(exc)))
                except queue.Empty:
                    break
        finally:
            self._engine.dispose()

    def _commit(self, conn: Connection, group: list[_Entry]) -> None:
        """Run a group in one transaction. If any job fails, the group is rolled back and each
        job runs again alone, so only the failing one fails (jobs are plain functions of the
        database, safe to run again). The common case pays no SAVEPOINT per job."""
        try:
            with conn.begin():
                results = [entry.job(conn) for entry in group]
        except Exception as exc:
            if len(group) > 1:
                for entry in group:
                    self._commit(conn, [entry])
                return
            if isinstance(exc, DBAPIError):
                exc = StoreError(f"database error while saving: {exc.orig}")
            group[0].settle(error=exc)
            return
        for entry, result in zip(group, results, strict=True):
            entry.settle(result)
