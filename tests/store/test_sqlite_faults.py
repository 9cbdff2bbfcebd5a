"""A SQLite store under faults, as a user meets them through ``cadenza``.

Each fault (a file that is not a database, a dropped table, a read-only mount,
a full disk) gives its own error code and exit code 4 at once, never a retry
loop, and once the fault is removed the same store works with nothing lost.
The read-only and full-disk cases mount a small tmpfs, which needs root.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

HELLO = 'version: 1.0\ntasks:\n  say:\n    action: core.echo message="hi"\n'


def cadenza(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cadenza", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        # A retry loop would run into this; a fault must end well before it.
        timeout=60,
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(cwd)},
    )


def _run(cwd: Path, store: Path) -> subprocess.CompletedProcess[str]:
    flow = cwd / "hello.yaml"
    if not flow.exists():
        flow.write_text(HELLO)
    return cadenza(cwd, "run", "--quiet", "--store", f"sqlite:///{store}", str(flow))


def _ps(cwd: Path, store: Path) -> list[dict[str, str]]:
    done = cadenza(cwd, "ps", "--json", "--store", f"sqlite:///{store}")
    assert done.returncode == 0, done.stderr
    rows: list[dict[str, str]] = json.loads(done.stdout)
    return rows


def test_a_file_that_is_not_a_database_is_refused_as_damaged(tmp_path: Path) -> None:
    store = tmp_path / "notes.db"
    store.write_bytes(b"these are my notes, not a database\n" * 200)

    done = cadenza(tmp_path, "ps", "--store", f"sqlite:///{store}")

    assert done.returncode == 4
    assert "error [store.damaged]" in done.stderr
    assert store.read_bytes().startswith(b"these are my notes")  # left as it was


def test_a_dropped_table_stops_a_run_at_once(tmp_path: Path) -> None:
    store = tmp_path / "cadenza.db"
    assert _run(tmp_path, store).returncode == 0
    with sqlite3.connect(store) as conn:
        conn.execute("DROP TABLE tasks")

    done = _run(tmp_path, store)

    assert done.returncode == 4, done.stderr
    assert "error [store.damaged]" in done.stderr
    assert "tasks" in done.stderr
    assert "retrying" not in done.stderr


@pytest.fixture
def small_mount(tmp_path: Path) -> Iterator[Path]:
    """A 4 MiB tmpfs of the test's own (root only)."""
    where = tmp_path / "mnt"
    where.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(where)],
        capture_output=True,
        text=True,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root): {mounted.stderr.strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def _remount(where: Path, mode: str) -> None:
    subprocess.run(["mount", "-o", f"remount,{mode}", str(where)], check=True)


def test_a_read_only_store_still_lists_and_shows(tmp_path: Path, small_mount: Path) -> None:
    store = small_mount / "cadenza.db"
    first = _run(tmp_path, store)
    assert first.returncode == 0, first.stderr
    _remount(small_mount, "ro")

    listed = _ps(tmp_path, store)
    assert [r["status"] for r in listed] == ["succeeded"]
    shown = cadenza(tmp_path, "status", listed[0]["execution_id"], "--store", f"sqlite:///{store}")
    assert shown.returncode == 0, shown.stderr
    assert "succeeded" in shown.stdout
    refused = _run(tmp_path, store)
    assert refused.returncode == 4
    assert "error [store.read_only]" in refused.stderr

    _remount(small_mount, "rw")
    assert _run(tmp_path, store).returncode == 0
    assert [r["status"] for r in _ps(tmp_path, store)] == ["succeeded", "succeeded"]


def test_a_full_disk_stops_a_run_and_the_store_works_once_there_is_room(
    tmp_path: Path, small_mount: Path
) -> None:
    store = small_mount / "cadenza.db"
    assert _run(tmp_path, store).returncode == 0
    filler = small_mount / "filler"
    with filler.open("wb") as out:
        try:
            while True:
                out.write(b"\0" * 65536)
                out.flush()
        except OSError:
            pass  # the disk is full now

    done = _run(tmp_path, store)

    assert done.returncode == 4, (done.returncode, done.stderr)
    assert "error [store.full]" in done.stderr
    filler.unlink()
    again = _run(tmp_path, store)
    assert again.returncode == 0, again.stderr
    statuses = [r["status"] for r in _ps(tmp_path, store)]
    # The run the full disk stopped may have been stored before it stopped; it
    # is never half written: each execution listed reads back whole.
    assert statuses.count("succeeded") >= 2
    for row in _ps(tmp_path, store):
        history = cadenza(
            tmp_path, "history", row["execution_id"], "--json", "--store", f"sqlite:///{store}"
        )
        assert history.returncode == 0, history.stderr
