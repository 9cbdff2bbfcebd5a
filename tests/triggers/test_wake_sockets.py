"""Waking the serve loop of another process on an SQLite store: a trigger
listener's commit reaches an engine that would otherwise poll."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from cadenza.engine.engine import Engine
from cadenza.engine.wake_sockets import WakeSockets
from cadenza.store.sqlite.store import SQLiteStore

from .support import wait_for

#: No trigger timeout: no timer that would wake the serve loop by itself.
WORKSPACE = """\
workspace: payments
triggers:
  - id: all-paid
    activation: [{subject: payment, type: paid}]
    condition: JOIN
    context: {join: 3, result: all paid}
    action: TERMINATE
"""

pytestmark = pytest.mark.skipif(
    not hasattr(socket, "AF_UNIX") or os.name != "posix", reason="no UNIX datagram sockets here"
)


def test_a_ring_reaches_the_other_listeners_and_not_the_ringer(tmp_path: Path) -> None:
    database = str(tmp_path / "cadenza.db")
    here, there = WakeSockets(database), WakeSockets(database)
    mine, theirs = here.listen(), there.listen()
    assert mine is not None and theirs is not None
    try:
        assert here.ring() == 1
        assert theirs.wait(10)
        assert not mine.wait(0)  # a process does not ring itself
        assert not theirs.wait(0)  # the ring was taken
        for _ in range(5):
            there.ring()
        assert mine.wait(10)
        assert not mine.wait(0)  # five rings, one wake-up
    finally:
        mine.close()
        theirs.close()
    assert not os.path.exists(here.directory)  # the last listener removed it
    assert here.ring() == 0


def test_a_socket_left_by_a_dead_process_is_removed_by_the_next_ring(tmp_path: Path) -> None:
    sockets = WakeSockets(str(tmp_path / "cadenza.db"))
    os.makedirs(sockets.directory)
    stale = os.path.join(sockets.directory, "12345-deadbeef")
    dead = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    dead.bind(stale)
    dead.close()  # its file stays, as when a process is killed
    assert sockets.ring() == 0
    assert not os.path.exists(stale)


def test_only_sqlite_files_have_wake_sockets(tmp_path: Path) -> None:
    store = SQLiteStore(str(tmp_path / "cadenza.db"))
    try:
        found = WakeSockets.of_store(store)
        assert found is not None
        assert found.directory == str(tmp_path / ".cadenza.db.wake")
    finally:
        store.close()
    assert WakeSockets.of_store(object()) is None


def test_a_socket_path_too_long_for_the_system_means_polling(tmp_path: Path) -> None:
    deep = tmp_path / ("d" * 120)
    deep.mkdir()
    assert WakeSockets(str(deep / "cadenza.db")).listen() is None


DELIVER = """
import sys
from cadenza.engine.engine import Engine
from cadenza.triggers.inbox import WorkspaceInbox
engine = Engine(sys.argv[1])
inbox = WorkspaceInbox(engine.store, sys.argv[2], on_delivered=engine.wake)
events = [
    {"specversion": "1.0", "id": f"p{n}", "source": "other", "subject": "payment", "type": "paid"}
    for n in range(3)
]
inbox.deliver(events, "another process")
engine.close()
"""


def test_another_process_commit_wakes_a_serving_engine_that_would_poll_for_an_hour(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'cadenza.db'}"
    # An hour between polls and heartbeats: only a ring can make it look sooner.
    engine = Engine(url, poll_interval=3600, lease=10_800)
    execution_id = engine.start(engine.register(WORKSPACE))
    engine.run_until_idle()
    stop = threading.Event()
    serving = threading.Thread(
        target=engine.serve,
        args=(stop,),
        kwargs={"until": lambda: engine.is_final(engine.get(execution_id))},
        daemon=True,
    )
    serving.start()
    try:
        directory = WakeSockets(str(tmp_path / "cadenza.db")).directory
        # The serve loop binds its socket as it starts.
        wait_for(
            lambda: os.path.isdir(directory) and bool(os.listdir(directory)),
            30,
            "the serve loop's wake-up socket",
        )
        done = subprocess.run(
            [sys.executable, "-c", DELIVER, url, execution_id],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
        serving.join(timeout=60)
        assert not serving.is_alive(), "the engine was not woken by the other process's commit"
        assert engine.get(execution_id).output == "all paid"
    finally:
        stop.set()
        serving.join(timeout=30)
        engine.close()


def test_a_command_that_exits_right_after_its_run_leaves_no_socket_behind(tmp_path: Path) -> None:
    # ``cadenza run`` leaves through os._exit once its execution ends: the socket
    # relay must have closed its socket (and the directory) before that.
    flow = tmp_path / "hello.yaml"
    flow.write_text(
        "version: 1.0\ntasks:\n  hello:\n    action: core.echo\n    input:\n      message: hi\n"
    )
    done = subprocess.run(
        [sys.executable, "-m", "cadenza", "run", str(flow), "--quiet"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "cadenza.db").exists()
    assert not (tmp_path / ".cadenza.db.wake").exists()
