"""Who holds a lease, and whether that holder is provably gone.

An owner id is ``host:pid:start:token``. ``start`` is the process start time
as the kernel reports it, so a recycled pid is not mistaken for the old
process. On the same host, an owner whose process no longer exists is dead
for certain and its leases can be broken at once instead of waiting for them
to expire.
"""

from __future__ import annotations

import os
import secrets
import socket


def _process_start(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as f:
            # Field 22 is the start time; the command name (field 2) may hold spaces.
            fields = f.read().rsplit(")", 1)[1].split()
            return fields[19]
    except (OSError, IndexError):
        return "0"


def new_owner_id() -> str:
    """A fresh owner id for this process (unique per engine object)."""
    pid = os.getpid()
    return f"{socket.gethostname()}:{pid}:{_process_start(pid)}:{secrets.token_hex(4)}"


def owner_is_dead(owner: str) -> bool:
    """True only when ``owner`` ran on this host and its process is gone."""
    parts = owner.split(":")
    if len(parts) != 4 or parts[0] != socket.gethostname():
        return False
    try:
        pid = int(parts[1])
    except ValueError:
        return False
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    start = _process_start(pid)
    return start != "0" and parts[2] != "0" and start != parts[2]
