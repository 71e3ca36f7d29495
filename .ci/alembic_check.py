"""`alembic check` on a fresh database of the server given (CI's PostgreSQL step).

The database is made and migrated the way the tests make theirs, then dropped, so the check
sees exactly what `lessonbot db upgrade` builds, on the same `DATABASE_URL` the bot would use.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.databases import fresh_database  # noqa: E402


async def main(server: str) -> int:
    with tempfile.TemporaryDirectory() as scratch:
        async with fresh_database(Path(scratch), server) as url:
            print("+ alembic check", flush=True)
            done = subprocess.run(["alembic", "check"], env={**os.environ, "DATABASE_URL": url},
                                  check=False)
            return done.returncode


if __name__ == "__main__":
    sys.exit(asyncio.run(main(sys.argv[1])))
