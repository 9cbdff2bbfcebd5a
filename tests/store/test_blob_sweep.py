"""``cadenza db sweep-blobs``: blobs kept as files or S3 objects that nothing refers to
are set aside, then deleted by a later sweep; referenced ones stay, and a blob a
row came to refer to after it was set aside is still read and is put back.

Each case runs on both stores (SQLite and PostgreSQL rows) and on both places
(a directory, and a bucket at a moto server process, as in ``test_blob_s3``).
Time is the sweep's ``now``: a sweep "two hours later" is one given that clock
(S3 stamps its objects itself, so blobs are never made to look older).
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cadenza.engine.engine import Engine
from cadenza.store.blob_s3 import S3Bucket
from cadenza.store.blob_sweep import SweepReport, place_of, sweep_blobs
from cadenza.store.postgres import PostgresStore
from cadenza.store.sqlite import SQLiteStore
from store.test_payload_blobs import BIG, WORKFLOW, registry

HOUR = 3600.0


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    pytest.importorskip("boto3", reason="boto3 is not installed (pip install boto3)")
    from store.test_blob_s3 import moto_server

    with moto_server() as url:
        yield url


@pytest.fixture(params=["directory", "bucket"])
def blob_location(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> str:
    """Where the store keeps blobs: a new directory, or a new bucket with a prefix."""
    for name in ("CADENZA_BLOB_URL", "CADENZA_BLOB_DIR"):
        monkeypatch.delenv(name, raising=False)
    if request.param == "directory":
        return str(tmp_path / "blobs")
    endpoint = request.getfixturevalue("s3_endpoint")
    from store.test_blob_s3 import CREDENTIALS

    for name, value in CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    import boto3  # type: ignore[import-untyped]

    bucket = f"sweep-{uuid.uuid4().hex[:12]}"
    boto3.client("s3", endpoint_url=endpoint).create_bucket(Bucket=bucket)
    return f"s3://{bucket}/cadenza/blobs?endpoint_url={endpoint}"


def open_with_blobs(store_url: str, location: str) -> SQLiteStore | PostgresStore:
    if store_url.startswith("sqlite:"):
        return SQLiteStore(store_url[len("sqlite:///") :], blob_dir=location)
    return PostgresStore(store_url, blob_dir=location)


def states(store: SQLiteStore | PostgresStore) -> dict[str, set[str]]:
    """Each blob of the store's place: where it is (``kept``, ``set_aside``, both)."""
    location = store.blob_location()
    assert location is not None
    found: dict[str, set[str]] = {}
    for blob in place_of(location).listing():
        found.setdefault(blob.name, set()).add(blob.state)
    return found


def plant(location: str, text: str) -> tuple[str, int]:
    """Keep ``text`` as a blob nothing refers to, as a write whose round was rolled
    back leaves it; its digest and size."""
    data = text.encode()
    digest = hashlib.sha256(data).hexdigest()
    if location.startswith("s3://"):
        import boto3

        bucket = S3Bucket.from_url(location)
        boto3.client("s3", endpoint_url=bucket.endpoint_url).put_object(
            Bucket=bucket.bucket, Key=bucket.key(digest), Body=data
        )
    else:
        path = Path(location) / digest[:2] / digest
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return digest, len(data)


def run_big(engine: Engine, tmp_path: Path) -> tuple[str, str]:
    """Run the workflow with a large result no other run keeps; its execution id
    and the digest of the large text."""
    (tmp_path / "gate").write_text("open")
    size = BIG + 1000 + uuid.uuid4().int % 100_000
    definition = engine.register(WORKFLOW, kind="orquesta")
    done = engine.run(definition, {"size": size, "gate": str(tmp_path / "gate")}, timeout=60)
    assert done.status == "succeeded", done.errors
    return done.id, hashlib.sha256(json.dumps("x" * size).encode()).hexdigest()


def sweep(store: SQLiteStore | PostgresStore, hours_later: float, **kw: Any) -> SweepReport:
    return sweep_blobs(store, now=time.time() + hours_later * HOUR, grace=HOUR, **kw)


def test_unreferenced_blobs_are_set_aside_then_deleted_and_referenced_ones_stay(
    store_url: str, blob_location: str, tmp_path: Path
) -> None:
    store = open_with_blobs(store_url, blob_location)
    engine = Engine(store, registry=registry([]))
    execution_id, digest = run_big(engine, tmp_path)
    orphan, orphan_size = plant(blob_location, json.dumps("orphan " + uuid.uuid4().hex * 100))
    assert states(store)[orphan] == {"kept"} and states(store)[digest] == {"kept"}

    # Within the grace period nothing goes: the orphan may be a write whose
    # round has not committed yet.
    now = sweep(store, 0)
    assert (now.set_aside, now.deleted, now.recent) == (0, 0, 1)
    assert now.recent_bytes == orphan_size and now.referenced >= 1
    assert states(store)[orphan] == {"kept"}

    # A dry run two hours later counts, and changes nothing.
    dry = sweep(store, 2, dry_run=True)
    assert (dry.set_aside, dry.set_aside_bytes) == (1, orphan_size)
    assert states(store)[orphan] == {"kept"}

    # Two hours later the orphan is set aside; the referenced blob stays.
    first = sweep(store, 2)
    assert (first.set_aside, first.set_aside_bytes, first.deleted) == (1, orphan_size, 0)
    assert states(store)[orphan] == {"set_aside"} and states(store)[digest] == {"kept"}
    assert any("set aside now: 1" in line for line in first.summary())

    # A sweep soon after leaves it set aside; one a grace period later deletes it.
    assert sweep(store, 0).waiting == 1 and states(store)[orphan] == {"set_aside"}
    second = sweep(store, 4)
    assert (second.deleted, second.deleted_bytes, second.set_aside) == (1, orphan_size, 0)
    assert orphan not in states(store) and states(store)[digest] == {"kept"}
    # The execution's value is read back from the blob the sweeps kept.
    store.forget_snapshots([execution_id])
    data = engine.get(execution_id).output["data"]
    assert hashlib.sha256(json.dumps(data).encode()).hexdigest() == digest

    # Once its execution is deleted, its blobs go too, in two sweeps.
    assert store.delete_executions([execution_id]) == 1
    assert sweep(store, 6).set_aside >= 1
    assert states(store)[digest] == {"set_aside"}
    assert sweep(store, 8).deleted >= 1
    assert digest not in states(store)
    engine.close()


def test_a_blob_referred_to_after_it_was_set_aside_is_read_and_put_back(
    store_url: str, blob_location: str, tmp_path: Path
) -> None:
    store = open_with_blobs(store_url, blob_location)
    engine = Engine(store, registry=registry([]))
    execution_id, digest = run_big(engine, tmp_path)
    location = store.blob_location()
    assert location is not None
    # What the race leaves: a writer found the blob in place, a sweep set it
    # aside, and the writer's row referring to it committed after the sweep
    # read the references.
    place_of(location).set_aside(digest, time.time())
    assert states(store)[digest] == {"set_aside"}

    # Readers find it aside: the engine rebuilding the execution, its output.
    store.forget_snapshots([execution_id])
    output = engine.get(execution_id).output
    assert hashlib.sha256(json.dumps(output["data"]).encode()).hexdigest() == digest

    # The next sweep, however late, puts it back rather than deleting it.
    report = sweep(store, 10)
    assert (report.restored, report.deleted) == (1, 0)
    assert states(store)[digest] == {"kept"}
    assert engine.get(execution_id).output == output
    engine.close()


def test_a_blob_written_again_after_it_was_set_aside_is_kept_once(
    store_url: str, blob_location: str, tmp_path: Path
) -> None:
    store = open_with_blobs(store_url, blob_location)
    engine = Engine(store, registry=registry([]))
    _, digest = run_big(engine, tmp_path)
    location = store.blob_location()
    assert location is not None
    # Set aside, then the same text is kept again by a new run's write: the
    # writer finds it missing from its place and writes it there.
    place_of(location).set_aside(digest, time.time())
    plant(blob_location, place_of_text(store, digest))
    assert states(store)[digest] == {"kept", "set_aside"}
    report = sweep(store, 10)
    assert report.deleted == 0 and report.referenced >= 1
    assert states(store)[digest] == {"kept"}  # the copy aside is not needed
    engine.close()


def place_of_text(store: SQLiteStore | PostgresStore, digest: str) -> str:
    """The text of a blob, wherever it is (as readers find it)."""
    location = store.blob_location()
    assert location is not None
    if isinstance(location, S3Bucket):
        from cadenza.store.blob_s3 import S3Blobs

        found = S3Blobs(location, rows=None).get([digest])  # type: ignore[arg-type]
    else:
        from cadenza.store.blob_directory import DirectoryBlobs

        found = DirectoryBlobs(location, rows=None).get([digest])  # type: ignore[arg-type]
    return found[digest].decode()


def test_unfinished_writes_older_than_the_grace_period_are_deleted(tmp_path: Path) -> None:
    folder = tmp_path / "blobs"
    store = SQLiteStore(str(tmp_path / "cadenza.db"), blob_dir=str(folder))
    (folder / "ab").mkdir(parents=True)
    stale, fresh = folder / "ab" / ".incoming-stale", folder / "ab" / ".incoming-fresh"
    stale.write_bytes(b"x" * 10)
    fresh.write_bytes(b"y" * 3)
    past = time.time() - 2 * HOUR
    os.utime(stale, (past, past))
    report = sweep(store, 0)
    assert (report.unfinished, report.unfinished_bytes) == (1, 10)
    assert not stale.exists() and fresh.exists()
    store.close()


def test_a_store_keeping_blobs_in_its_table_has_nothing_to_sweep(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CADENZA_")}
    shown = subprocess.run(
        [sys.executable, "-m", "cadenza", "db", "sweep-blobs"],
        capture_output=True,
        text=True,
        env={**env, "CADENZA_STORE": f"sqlite:///{tmp_path / 'cadenza.db'}"},
        timeout=120,
        check=False,
    )
    assert shown.returncode == 2, shown.stderr
    assert "nothing to sweep" in shown.stderr and "Traceback" not in shown.stderr


def test_the_command_sweeps_the_directory_the_environment_names(tmp_path: Path) -> None:
    folder = tmp_path / "blobs"
    store_url = f"sqlite:///{tmp_path / 'cadenza.db'}"
    SQLiteStore(str(tmp_path / "cadenza.db"), blob_dir=str(folder)).close()
    orphan, size = plant(str(folder), json.dumps("orphan"))
    past = time.time() - 3 * HOUR
    os.utime(folder / orphan[:2] / orphan, (past, past))
    env = {k: v for k, v in os.environ.items() if not k.startswith("CADENZA_")}
    env.update(CADENZA_STORE=store_url, CADENZA_BLOB_DIR=str(folder))

    def cadenza(*args: str) -> str:
        shown = subprocess.run(
            [sys.executable, "-m", "cadenza", "db", "sweep-blobs", *args],
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
            check=False,
        )
        assert shown.returncode == 0, shown.stderr
        return shown.stdout

    assert f"would set aside now: 1 ({size} bytes)" in cadenza("--dry-run")
    assert (folder / orphan[:2] / orphan).exists()
    assert f"set aside now: 1 ({size} bytes)" in cadenza("--older-than", "2h")
    assert (folder / "swept" / orphan[:2] / orphan).exists()
    # Set aside just now: a second sweep keeps it until the grace period has passed.
    assert "set aside, deleted by a sweep after the grace period: 1" in cadenza()
    assert (folder / "swept" / orphan[:2] / orphan).exists()
