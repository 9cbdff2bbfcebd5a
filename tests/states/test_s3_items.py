"""A Distributed Map's ``ItemReader`` and ``ResultWriter`` against a real S3 endpoint.

A moto server process stands in for S3 (started on a free port; the tests skip
with the reason when it cannot start). boto3 creates the bucket and objects;
the engine runs the machine with ``states.s3.read_items`` and
``states.s3.write_results`` served for that endpoint.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cadenza.engine.engine import Engine
from cadenza.interpreters.states.frontend import StatesFrontEnd
from cadenza.interpreters.states.history import sfn_history
from cadenza.store.sqlite import SQLiteStore
from cadenza.testing.clock import FakeClock
from cadenza.workers.builtins.s3_items import S3Settings, register_s3_actions
from cadenza.workers.registry import ActivityRegistry

boto3 = pytest.importorskip("boto3", reason="boto3 is not installed (pip install boto3)")

BUCKET = "items"
SETTINGS_KEYS = {"region": "us-east-1", "access_key_id": "testing", "secret_access_key": "testing"}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    """The URL of a moto server process, up for this module's tests."""
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
    )
    url = f"http://127.0.0.1:{port}"
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
        yield url
    finally:
        server.terminate()
        server.wait(timeout=10)


@pytest.fixture
def s3(s3_endpoint: str) -> Any:
    client = boto3.client(
        "s3",
        endpoint_url=s3_endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    with contextlib.suppress(client.exceptions.BucketAlreadyOwnedByYou):
        client.create_bucket(Bucket=BUCKET)
    return client


@pytest.fixture
def engine(tmp_path: Path, s3_endpoint: str) -> Iterator[Engine]:
    registry = ActivityRegistry()
    settings = S3Settings.from_mapping({"endpoint_url": s3_endpoint, **SETTINGS_KEYS})
    register_s3_actions(registry, settings)
    registry.register(
        "arn:aws:lambda:us-east-1:111111111111:function:check",
        _check,
        whole_input=True,
    )
    engine = Engine(
        SQLiteStore(str(tmp_path / "cadenza.db")),
        registry=registry,
        clock=FakeClock(1_700_000_000.0),
        front_ends={"states": StatesFrontEnd()},
    )
    try:
        yield engine
    finally:
        engine.close()


def _check(item: Any) -> Any:
    if isinstance(item, dict) and item.get("bad"):
        raise ValueError(f"item {item.get('id')} is bad")
    return {"seen": item}


def machine(
    reader: dict[str, Any] | None, writer: dict[str, Any] | None = None, **extra: Any
) -> Any:
    state: dict[str, Any] = {
        "Type": "Map",
        "ItemProcessor": {
            "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
            "StartAt": "Check",
            "States": {
                "Check": {
                    "Type": "Task",
                    "Resource": "arn:aws:lambda:us-east-1:111111111111:function:check",
                    "End": True,
                }
            },
        },
        "End": True,
        **extra,
    }
    if reader is not None:
        state["ItemReader"] = reader
    if writer is not None:
        state["ResultWriter"] = writer
    return {"StartAt": "Each", "States": {"Each": state}}


def _run(engine: Engine, definition: Any, data: Any = None) -> Any:
    registered = engine.register(json.dumps(definition), kind="states", name="Items")
    execution_id = engine.start(registered, data if data is not None else {})
    engine.run_until_idle(skip_time=True)
    return engine.get(execution_id), execution_id


def _put(s3: Any, key: str, body: str) -> None:
    s3.put_object(Bucket=BUCKET, Key=key, Body=body.encode())


def _seen(record: Any) -> list[Any]:
    return [entry["seen"] for entry in record.output]


def test_a_json_array_object_gives_the_items(engine: Engine, s3: Any) -> None:
    _put(s3, "in/items.json", json.dumps([{"id": 1}, {"id": 2}, {"id": 3}]))
    reader = {
        "Resource": "arn:aws:states:::s3:getObject",
        "ReaderConfig": {"InputType": "JSON"},
        "Parameters": {"Bucket": BUCKET, "Key.$": "$.key"},
    }
    record, _ = _run(engine, machine(reader), {"key": "in/items.json"})
    assert record.status == "succeeded", record.errors
    assert _seen(record) == [{"id": 1}, {"id": 2}, {"id": 3}]


def test_json_lines_with_max_items(engine: Engine, s3: Any) -> None:
    _put(s3, "in/items.jsonl", "\n".join(json.dumps({"n": n}) for n in range(10)) + "\n")
    reader = {
        "Resource": "arn:aws:states:::s3:getObject",
        "ReaderConfig": {"InputType": "JSONL", "MaxItems": 4},
        "Parameters": {"Bucket": BUCKET, "Key": "in/items.jsonl"},
    }
    record, _ = _run(engine, machine(reader))
    assert record.status == "succeeded", record.errors
    assert _seen(record) == [{"n": 0}, {"n": 1}, {"n": 2}, {"n": 3}]


def test_csv_with_its_first_row_as_headers(engine: Engine, s3: Any) -> None:
    _put(s3, "in/people.csv", "name,age\nAda,36\nAlan,41\n")
    reader = {
        "Resource": "arn:aws:states:::s3:getObject",
        "ReaderConfig": {"InputType": "CSV", "CSVHeaderLocation": "FIRST_ROW"},
        "Parameters": {"Bucket": BUCKET, "Key": "in/people.csv"},
    }
    record, _ = _run(engine, machine(reader))
    assert record.status == "succeeded", record.errors
    assert _seen(record) == [{"name": "Ada", "age": "36"}, {"name": "Alan", "age": "41"}]


def test_csv_with_given_headers_and_max_items_path(engine: Engine, s3: Any) -> None:
    _put(s3, "in/rows.csv", "a|1\nb|2\nc|3\n")
    reader = {
        "Resource": "arn:aws:states:::s3:getObject",
        "ReaderConfig": {
            "InputType": "CSV",
            "CSVHeaderLocation": "GIVEN",
            "CSVHeaders": ["letter", "digit"],
            "CSVDelimiter": "PIPE",
            "MaxItemsPath": "$.limit",
        },
        "Parameters": {"Bucket": BUCKET, "Key": "in/rows.csv"},
    }
    record, _ = _run(engine, machine(reader), {"limit": 2})
    assert record.status == "succeeded", record.errors
    assert _seen(record) == [{"letter": "a", "digit": "1"}, {"letter": "b", "digit": "2"}]


def test_an_object_listing_gives_object_descriptors(engine: Engine, s3: Any) -> None:
    _put(s3, "listed/a.txt", "alpha")
    _put(s3, "listed/b.txt", "bravo!")
    reader = {
        "Resource": "arn:aws:states:::s3:listObjectsV2",
        "Parameters": {"Bucket": BUCKET, "Prefix": "listed/"},
    }
    record, _ = _run(engine, machine(reader))
    assert record.status == "succeeded", record.errors
    items = _seen(record)
    assert [(i["Key"], i["Size"]) for i in items] == [("listed/a.txt", 5), ("listed/b.txt", 6)]
    heads = {key: s3.head_object(Bucket=BUCKET, Key=key) for key in ("listed/a.txt",)}
    assert items[0]["Etag"] == heads["listed/a.txt"]["ETag"]
    assert isinstance(items[0]["LastModified"], int)
    assert items[0]["StorageClass"] == "STANDARD"


def test_a_missing_object_fails_with_item_reader_failed(engine: Engine, s3: Any) -> None:
    reader = {
        "Resource": "arn:aws:states:::s3:getObject",
        "ReaderConfig": {"InputType": "JSON"},
        "Parameters": {"Bucket": BUCKET, "Key": "in/nothing-here.json"},
    }
    record, _ = _run(engine, machine(reader))
    assert record.status == "failed"
    assert record.errors[0]["error"] == "States.ItemReaderFailed"
    assert "NoSuchKey" in record.errors[0]["cause"]


def test_an_object_that_is_not_an_array_fails_with_item_reader_failed(
    engine: Engine, s3: Any
) -> None:
    _put(s3, "in/object.json", json.dumps({"not": "a list"}))
    reader = {
        "Resource": "arn:aws:states:::s3:getObject",
        "ReaderConfig": {"InputType": "JSON"},
        "Parameters": {"Bucket": BUCKET, "Key": "in/object.json"},
    }
    definition = machine(reader)
    definition["States"]["Each"]["Catch"] = [
        {"ErrorEquals": ["States.ItemReaderFailed"], "Next": "Caught"}
    ]
    del definition["States"]["Each"]["End"]
    definition["States"]["Each"]["Next"] = "Done"
    definition["States"]["Done"] = {"Type": "Succeed"}
    definition["States"]["Caught"] = {"Type": "Pass", "End": True}
    record, _ = _run(engine, definition)
    assert record.status == "succeeded", record.errors
    assert record.output["Error"] == "States.ItemReaderFailed"
    assert "must hold a JSON array" in record.output["Cause"]


def test_result_writer_writes_the_map_runs_results_and_a_manifest(engine: Engine, s3: Any) -> None:
    _put(s3, "in/mixed.json", json.dumps([{"id": 1}, {"id": 2, "bad": True}, {"id": 3}]))
    reader = {
        "Resource": "arn:aws:states:::s3:getObject",
        "ReaderConfig": {"InputType": "JSON"},
        "Parameters": {"Bucket": BUCKET, "Key": "in/mixed.json"},
    }
    writer = {
        "Resource": "arn:aws:states:::s3:putObject",
        "Parameters": {"Bucket": BUCKET, "Prefix": "out"},
    }
    record, execution_id = _run(engine, machine(reader, writer, ToleratedFailureCount=1))
    assert record.status == "succeeded", record.errors
    details = record.output["ResultWriterDetails"]
    map_run = record.output["MapRunArn"]
    assert map_run.startswith("arn:aws:states:us-east-1:111111111111:mapRun:Items/Each:")
    run_id = map_run.rsplit(":", 1)[-1]
    assert details == {"Bucket": BUCKET, "Key": f"out/{run_id}/manifest.json"}

    manifest = json.loads(s3.get_object(Bucket=BUCKET, Key=details["Key"])["Body"].read())
    assert manifest["DestinationBucket"] == BUCKET
    assert manifest["MapRunArn"] == map_run
    files = manifest["ResultFiles"]
    assert files["PENDING"] == []
    assert [f["Key"] for f in files["SUCCEEDED"]] == [f"out/{run_id}/SUCCEEDED_0.json"]
    assert [f["Key"] for f in files["FAILED"]] == [f"out/{run_id}/FAILED_0.json"]

    def read(key: str) -> Any:
        body = s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()
        assert len(body) == next(
            f["Size"] for kind in files.values() for f in kind if f["Key"] == key
        )
        return json.loads(body)

    succeeded = read(f"out/{run_id}/SUCCEEDED_0.json")
    assert [json.loads(e["Input"]) for e in succeeded] == [{"id": 1}, {"id": 3}]
    assert [json.loads(e["Output"]) for e in succeeded] == [
        {"seen": {"id": 1}},
        {"seen": {"id": 3}},
    ]
    assert {e["Status"] for e in succeeded} == {"SUCCEEDED"}
    assert all(e["ExecutionArn"].endswith(e["Name"]) for e in succeeded)
    failed = read(f"out/{run_id}/FAILED_0.json")
    assert [(json.loads(e["Input"]), e["Status"], e["Error"]) for e in failed] == [
        ({"id": 2, "bad": True}, "FAILED", "ValueError")
    ]
    assert "item 2 is bad" in failed[0]["Cause"]

    kinds = [event["type"] for event in sfn_history(engine.history(execution_id))]
    assert kinds[-4:] == [
        "MapRunSucceeded",
        "MapStateSucceeded",
        "MapStateExited",
        "ExecutionSucceeded",
    ]


def test_a_write_to_a_missing_bucket_fails_with_result_writer_failed(
    engine: Engine, s3: Any
) -> None:
    writer = {
        "Resource": "arn:aws:states:::s3:putObject",
        "Parameters": {"Bucket": "no-such-bucket", "Prefix": "out"},
    }
    record, execution_id = _run(
        engine, machine(None, writer, ItemsPath="$.xs"), {"xs": [{"id": 1}]}
    )
    assert record.status == "failed"
    assert record.errors[0]["error"] == "States.ResultWriterFailed"
    assert "NoSuchBucket" in record.errors[0]["cause"]
    kinds = [event["type"] for event in sfn_history(engine.history(execution_id))]
    assert "MapRunFailed" in kinds and "MapStateFailed" in kinds


def test_settings_refuse_an_unknown_key() -> None:
    from cadenza.model.errors import InputError

    with pytest.raises(InputError, match="endpoint"):
        S3Settings.from_mapping({"endpoint": "http://x"})


def test_a_cli_run_reads_and_writes_s3_through_the_resource_map(
    tmp_path: Path,
    s3: Any,
    s3_endpoint: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from cadenza.cli.main import main

    _put(s3, "cli/in.json", json.dumps([{"id": "x"}, {"id": "y"}]))
    for name, value in {
        "AWS_ENDPOINT_URL": s3_endpoint,
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
    }.items():
        monkeypatch.setenv(name, value)
    definition = machine(
        {
            "Resource": "arn:aws:states:::s3:getObject",
            "ReaderConfig": {"InputType": "JSON"},
            "Parameters": {"Bucket": BUCKET, "Key": "cli/in.json"},
        },
        {"Resource": "arn:aws:states:::s3:putObject", "Parameters": {"Bucket": BUCKET}},
    )
    (tmp_path / "items.asl.json").write_text(json.dumps(definition))
    (tmp_path / "checks.py").write_text("def check(item):\n    return {'seen': item}\n")
    (tmp_path / "resources.yaml").write_text(
        "arn:aws:lambda:us-east-1:111111111111:function:check:\n"
        "  python: checks:check\n"
        "states.s3.read_items:\n"
        "  python: cadenza.workers.builtins.s3_items:read_items\n"
        "states.s3.write_results:\n"
        "  python: cadenza.workers.builtins.s3_items:write_results\n"
    )
    code = main(
        [
            "run",
            str(tmp_path / "items.asl.json"),
            "--resources",
            str(tmp_path / "resources.yaml"),
            "--store",
            f"sqlite:///{tmp_path / 'cadenza.db'}",
            "--json",
            "--quiet",
        ]
    )
    captured = capsys.readouterr()
    assert code == 0, captured.err
    output = json.loads(captured.out)["output"]
    key = output["ResultWriterDetails"]["Key"]
    manifest = json.loads(s3.get_object(Bucket=BUCKET, Key=key)["Body"].read())
    (written,) = manifest["ResultFiles"]["SUCCEEDED"]
    results = json.loads(s3.get_object(Bucket=BUCKET, Key=written["Key"])["Body"].read())
    assert [json.loads(e["Output"]) for e in results] == [
        {"seen": {"id": "x"}},
        {"seen": {"id": "y"}},
    ]


def test_jsonata_arguments_and_reader_config_are_evaluated(engine: Engine, s3: Any) -> None:
    _put(s3, "in/many.json", json.dumps([{"id": n} for n in range(5)]))
    reader = {
        "Resource": "arn:aws:states:::s3:getObject",
        "ReaderConfig": {"InputType": "JSON", "MaxItems": "{% $states.input.limit %}"},
        "Arguments": {"Bucket": BUCKET, "Key": "{% $states.input.key %}"},
    }
    definition = machine(reader)
    definition["QueryLanguage"] = "JSONata"
    record, _ = _run(engine, definition, {"key": "in/many.json", "limit": 2})
    assert record.status == "succeeded", record.errors
    assert _seen(record) == [{"id": 0}, {"id": 1}]
