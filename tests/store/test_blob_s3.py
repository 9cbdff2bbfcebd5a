"""Blobs kept in an S3-compatible bucket, on both stores, against a real S3 endpoint.

A moto server process stands in for S3 over HTTP (started on a free port; the
tests skip with the reason when it cannot start); boto3 is the client on both
sides. A workflow with a large result runs, the object is in the bucket, history
keeps the reference, and the engine, ``cadenza history`` and ``cadenza status``
read the value back. A missing bucket and refused credentials are clear store
errors, not tracebacks.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from cadenza.engine.engine import Engine
from cadenza.model.errors import StoreFault
from cadenza.store.blob_s3 import S3Bucket
from cadenza.store.blobs import CLAIM_PREFIX
from cadenza.store.postgres import PostgresStore
from cadenza.store.protocol import Store
from cadenza.store.sqlite import SQLiteStore
from store.test_payload_blobs import BIG, WORKFLOW, raw_rows, registry

boto3 = pytest.importorskip("boto3", reason="boto3 is not installed (pip install boto3)")

CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextlib.contextmanager
def moto_server(**env: str) -> Iterator[str]:
    """The URL of a moto server process, up inside the ``with`` block."""
    program = shutil.which("moto_server", path=os.path.dirname(sys.executable)) or shutil.which(
        "moto_server"
    )
    if program is None:
        pytest.skip("moto_server is not installed (pip install 'moto[server]')")
    port = _free_port()
    server = subprocess.Popen(
        [program, "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, **env},
    )
    deadline = time.monotonic() + 30
    try:
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    pytest.skip(f"moto_server did not start on port {port}")
                time.sleep(0.05)  # polling the port until the deadline, not a fixed wait
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait(timeout=10)


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    with moto_server() as url:
        yield url


@pytest.fixture(autouse=True)
def credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    for name in ("CADENZA_BLOB_URL", "CADENZA_BLOB_DIR", "AWS_PROFILE", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def bucket_url(s3_endpoint: str) -> str:
    """A new bucket's URL, with a key prefix, at the moto server."""
    name = f"blobs-{uuid.uuid4().hex[:12]}"
    boto3.client("s3", endpoint_url=s3_endpoint).create_bucket(Bucket=name)
    return f"s3://{name}/cadenza/blobs?endpoint_url={s3_endpoint}"


def open_with_blobs(store_url: str, location: str) -> Store:
    if store_url.startswith("sqlite:"):
        return SQLiteStore(store_url[len("sqlite:///") :], blob_dir=location)
    return PostgresStore(store_url, blob_dir=location)


def objects(bucket_url: str) -> dict[str, int]:
    """The bucket's objects under its prefix, with their sizes, as S3 lists them."""
    bucket = S3Bucket.from_url(bucket_url)
    listed = boto3.client("s3", endpoint_url=bucket.endpoint_url).list_objects_v2(
        Bucket=bucket.bucket, Prefix=bucket.prefix
    )
    return {item["Key"]: item["Size"] for item in listed.get("Contents", [])}


def cadenza(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k != "CADENZA_STORE"}
    return subprocess.run(
        [sys.executable, "-m", "cadenza", *args],
        capture_output=True,
        text=True,
        env={**clean, **env},
        timeout=120,
        check=False,
    )


def test_a_large_result_is_an_object_in_the_bucket_and_every_reader_gets_it_back(
    store_url: str, bucket_url: str, tmp_path: Any
) -> None:
    (tmp_path / "gate").write_text("open")
    engine = Engine(open_with_blobs(store_url, bucket_url), registry=registry([]))
    definition = engine.register(WORKFLOW, kind="orquesta")
    size = BIG + 11  # a text no other test keeps
    done = engine.run(definition, {"size": size, "gate": str(tmp_path / "gate")}, timeout=60)
    assert done.status == "succeeded", done.errors
    engine.close()

    text = json.dumps("x" * size).encode()
    digest = hashlib.sha256(text).hexdigest()
    assert objects(bucket_url) == {f"cadenza/blobs/{digest}": len(text)}
    # Not in the database: its rows hold the reference only.
    assert raw_rows(store_url, "SELECT COUNT(*) FROM blobs WHERE digest = ?", digest) == [(0,)]
    refs = raw_rows(
        store_url,
        "SELECT payload FROM history WHERE execution_id = ? AND payload LIKE ?",
        done.id,
        CLAIM_PREFIX + "%",
    )
    assert refs and all(digest in row[0] and len(row[0]) < 4096 for row in refs)

    # Another process, told where the bucket is by the environment, shows the
    # value (on one backend: the command line reads both stores alike).
    env = {"CADENZA_BLOB_URL": bucket_url, **CREDENTIALS}
    commands = (["history", done.id, "--json"], ["status", done.id, "--json"])
    for command in commands if store_url.startswith("sqlite:") else ():
        shown = cadenza(*command, "--store", store_url, env=env)
        assert shown.returncode == 0, shown.stderr
        assert '"' + "x" * size + '"' in shown.stdout, command
        assert CLAIM_PREFIX not in shown.stdout and digest not in shown.stdout

    # A rerun in a new engine reads the result back from the bucket to decide.
    again = Engine(open_with_blobs(store_url, bucket_url), registry=registry([]))
    again.store.forget_snapshots([done.id])
    assert again.get(done.id).output == {"data": "x" * size, "checked": size}
    again.close()


def test_a_missing_bucket_is_a_store_fault_before_anything_is_stored(
    s3_endpoint: str, tmp_path: Any
) -> None:
    missing = f"s3://no-such-bucket-{uuid.uuid4().hex[:8]}/x?endpoint_url={s3_endpoint}"
    with pytest.raises(StoreFault) as raised:
        SQLiteStore(str(tmp_path / "cadenza.db"), blob_dir=missing)
    assert raised.value.code == "store.fault"
    assert "does not exist" in raised.value.message and "no-such-bucket-" in raised.value.message

    shown = cadenza(
        "ps",
        "--store",
        f"sqlite:///{tmp_path / 'other.db'}",
        env={"CADENZA_BLOB_URL": missing, **CREDENTIALS},
    )
    assert shown.returncode == 4, shown.stderr
    assert "error [store.fault]" in shown.stderr and "does not exist" in shown.stderr
    assert "Traceback" not in shown.stderr


def test_refused_credentials_are_a_store_fault_naming_them(tmp_path: Any) -> None:
    # Authentication on: only keys of users moto knows are accepted.
    with moto_server(INITIAL_NO_AUTH_ACTION_COUNT="0") as endpoint:
        url = f"s3://any-bucket/x?endpoint_url={endpoint}"
        with pytest.raises(StoreFault) as raised:
            SQLiteStore(str(tmp_path / "cadenza.db"), blob_dir=url)
        assert "refused the credentials" in raised.value.message
        # A HEAD answer has no body: S3 says only 403 there, as AWS does.
        assert raised.value.details["s3_code"] in ("InvalidAccessKeyId", "403")


def test_bucket_urls_are_read_strictly() -> None:
    bucket = S3Bucket.from_url("s3://b/some/prefix?endpoint_url=http://h:9000&region=eu-west-1")
    assert (bucket.bucket, bucket.prefix, bucket.endpoint_url, bucket.region) == (
        "b",
        "some/prefix/",
        "http://h:9000",
        "eu-west-1",
    )
    assert S3Bucket.from_url("s3://b").prefix == ""
    from cadenza.model.errors import InputError

    with pytest.raises(InputError, match="credentials come from boto3"):
        S3Bucket.from_url("s3://b/p?aws_secret_access_key=oops")
