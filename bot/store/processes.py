"""Whether a process that left work in the database (a reply it was sending, broadcast rows it
claimed) is certainly gone, so another may take that work over at once instead of waiting.

Only a process on this machine can be known dead: its pid is free, or a zombie not yet reaped.
Anywhere else the caller falls back on time (a grace period, a heartbeat's age).
"""

from __future__ import annotations

import os
import socket
from pathlib import Path

HOST = socket.gethostname()


def pid_gone(host: str, pid: int) -> bool:
    """True only when the process `pid` on `host` certainly no longer runs (never for the
    current process, nor for another machine's)."""
    if host != HOST or pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # someone else's process now has that pid
        return False
    try:  # killed but not yet reaped by its parent: it does nothing any more
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except (OSError, IndexError):
        return False
