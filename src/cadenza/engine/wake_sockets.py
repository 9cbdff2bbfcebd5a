"""Waking the other processes of one SQLite store: datagram sockets beside the file.

PostgreSQL tells the processes of a store that work arrived (``LISTEN`` /
``NOTIFY``); SQLite cannot, so a process serving an SQLite store would only
notice another process's commit at its next poll. Here each process that
serves the store binds a UNIX datagram socket in a directory next to the
database file (``.<file name>.wake/``), and a process that committed work for
the others (a trigger listener that delivered a batch, an HTTP call that
finished a task) sends one small datagram to every socket there but its own.
The receiver wakes its serve loop, which looks for work at once.

The datagrams carry nothing: they only say "look". A lost one (a full
receiving buffer, a socket bound a moment too late) costs latency only, as
the serve loop still polls. The directory is removed when its last listener
closes; a socket left behind by a process that died is removed by the first
sender the system refuses. Where UNIX datagram sockets
do not exist (Windows), or the socket's path would be longer than the system
accepts, nothing is bound or sent and processes poll as before.
"""

from __future__ import annotations

import contextlib
import errno
import os
import select
import socket
import sys
import threading
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cadenza.store.sqlite.store import SQLiteStore

__all__ = ["WakeListener", "WakeSockets", "start_socket_relay"]

#: The longest socket path bound or written to (the system limit is 104 bytes
#: on macOS and the BSDs, 108 on Linux, with the final NUL).
_MAX_PATH = 100
_SUPPORTED = hasattr(socket, "AF_UNIX") and os.name == "posix"
#: What a ring may fail with and be ignored: the socket went away, is not a
#: socket, or is not ours to write to.
_IGNORED = frozenset({errno.ENOENT, errno.EACCES, errno.EPERM, errno.ENOTSOCK})


class WakeSockets:
    """The wake-up sockets of one SQLite database file (see the module docstring)."""

    def __init__(self, database: str) -> None:
        absolute = os.path.abspath(database)
        folder, name = os.path.split(absolute)
        #: Where the processes serving this database bind their sockets.
        self.directory = os.path.join(folder, f".{name}.wake")
        #: The names of this process's listeners, which its own rings skip.
        self._own: set[str] = set()
        self._lock = threading.Lock()

    @classmethod
    def of_store(cls, store: object) -> WakeSockets | None:
        """Those of ``store`` when it is an SQLite file here (None otherwise: a
        store that notifies by itself, an in-memory database, no UNIX sockets)."""
        # Looked up, not imported: a store of another kind (PostgreSQL) need not
        # load the SQLite store's modules, and an SQLiteStore exists only once its
        # module is loaded.
        loaded = sys.modules.get("cadenza.store.sqlite.store")
        if not _SUPPORTED or loaded is None:
            return None
        sqlite_store: type[SQLiteStore] = loaded.SQLiteStore
        if not isinstance(store, sqlite_store):
            return None
        path = store.path
        if not path or path == ":memory:" or path.startswith("file:"):
            return None
        return cls(path)

    def listen(self) -> WakeListener | None:
        """Bind a socket of this process that other processes' rings reach
        (None if it cannot be bound). Close it when done."""
        name = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
        path = os.path.join(self.directory, name)
        if len(os.fsencode(path)) > _MAX_PATH:
            return None
        try:
            own = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        except OSError:
            return None
        # Twice: the last listener of another process may remove the directory
        # between our making it and binding in it.
        for attempt in (1, 2):
            try:
                os.makedirs(self.directory, exist_ok=True)
                own.bind(path)
                break
            except FileNotFoundError:
                if attempt == 2:
                    own.close()
                    return None
            except OSError:
                own.close()
                return None
        own.setblocking(False)
        with self._lock:
            self._own.add(name)
        return WakeListener(own, path, lambda: self._forget(name))

    def _forget(self, name: str) -> None:
        with self._lock:
            self._own.discard(name)

    def ring(self) -> int:
        """Ring every other process's socket; how many were rung."""
        try:
            names = os.listdir(self.directory)
        except OSError:
            return 0  # nobody has ever listened here
        with self._lock:
            own = set(self._own)
        targets = [n for n in names if n not in own]
        if not targets:
            return 0
        rung = 0
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sender:
            sender.setblocking(False)
            for name in targets:
                path = os.path.join(self.directory, name)
                if len(os.fsencode(path)) > _MAX_PATH:
                    continue
                try:
                    sender.sendto(b"w", path)
                    rung += 1
                except BlockingIOError:
                    rung += 1  # its buffer is full of rings it has not taken yet
                except ConnectionRefusedError:
                    # Nobody reads it: its process died without removing it.
                    with contextlib.suppress(OSError):
                        os.unlink(path)
                except OSError as exc:
                    if exc.errno not in _IGNORED:
                        raise
        return rung


class WakeListener:
    """One bound wake-up socket: ``wait`` for rings, then ``close`` (from the
    thread that waits)."""

    def __init__(self, own: socket.socket, path: str, forget: Callable[[], None]) -> None:
        self._socket = own
        self.path = path
        self._forget = forget

    def wait(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for a ring; True if rung (every ring
        that arrived meanwhile is taken: one wake-up for all of them)."""
        ready, _, _ = select.select([self._socket], [], [], timeout)
        if not ready:
            return False
        with contextlib.suppress(OSError):
            while True:
                self._socket.recv(64)
        return True

    def close(self) -> None:
        """Unbind the socket and remove its file (and the directory, if it was
        the last one there)."""
        self._socket.close()
        with contextlib.suppress(OSError):
            os.unlink(self.path)
        with contextlib.suppress(OSError):  # not empty: other processes listen
            os.rmdir(os.path.dirname(self.path))
        self._forget()


class SocketRelay:
    """The thread that turns rings into wake-ups, and its socket's file."""

    def __init__(self, thread: threading.Thread, path: str) -> None:
        self.thread = thread
        self._path = path

    def end(self) -> None:
        """After ``stop`` is set: remove the socket's file now (and the directory,
        if it was the last), so a process that exits right after leaves nothing
        behind. The thread is not waited for: it closes the socket when its
        current wait ends, or the process's exit does."""
        with contextlib.suppress(OSError):
            os.unlink(self._path)
        with contextlib.suppress(OSError):  # not empty: other processes listen
            os.rmdir(os.path.dirname(self._path))


def start_socket_relay(
    sockets: WakeSockets | None, wake: threading.Event, stop: threading.Event
) -> SocketRelay | None:
    """A thread that sets ``wake`` whenever another process rings, until
    ``stop`` is set (None when there is nothing to listen on)."""
    listener = sockets.listen() if sockets is not None else None
    if listener is None:
        return None

    def relay() -> None:
        try:
            while not stop.is_set():
                if listener.wait(0.5):
                    wake.set()
        finally:
            listener.close()

    thread = threading.Thread(target=relay, name="cadenza-wake-socket", daemon=True)
    thread.start()
    return SocketRelay(thread, listener.path)
