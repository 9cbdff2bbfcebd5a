"""A Distributed Map's items read from S3 and its results written to S3.

The States interpreter stays pure: for a Map's ``ItemReader`` it schedules the
action ``states.s3.read_items`` and for its ``ResultWriter`` the action
``states.s3.write_results``; this module is what a worker runs for them, with
boto3 against any S3-compatible endpoint (AWS itself, MinIO, a moto server).

``states.s3.read_items`` takes ``{"Resource", "Arguments", "ReaderConfig"}``:

* ``arn:aws:states:::s3:listObjectsV2`` — the objects under ``Arguments``
  (``Bucket``, ``Prefix``...), each as Step Functions gives it:
  ``{"Etag", "Key", "LastModified" (epoch seconds), "Size", "StorageClass"}``;
* ``arn:aws:states:::s3:getObject`` — the object ``Arguments.Bucket``/``Key``
  read as ``ReaderConfig.InputType``: ``JSON`` (an array), ``JSONL`` (one
  value a line) or ``CSV`` (one object a row; headers from the first row,
  ``CSVHeaderLocation: FIRST_ROW``, or from ``CSVHeaders`` with ``GIVEN``;
  ``CSVDelimiter`` ``COMMA`` (default), ``PIPE``, ``SEMICOLON``, ``SPACE``, ``TAB``).

At most ``ReaderConfig.MaxItems`` items are returned (0 or absent: all).

``states.s3.write_results`` takes ``{"Bucket", "Prefix", "MapRunArn",
"Results": {"SUCCEEDED": [...], "FAILED": [...], "PENDING": [...]}}`` (the
entries as Step Functions writes them, built by the interpreter) and writes,
under ``<Prefix>/<map run id>/``, one ``<STATUS>_0.json`` file (a JSON array)
for each status that has entries and ``manifest.json`` listing them; it
returns ``{"Bucket", "Key"}`` of the manifest.

A failure raises ``ActivityError`` typed ``States.ItemReaderFailed`` or
``States.ResultWriterFailed`` with S3's own message as the cause.

Where S3 is: :class:`S3Settings`, from the resource map's ``s3`` entry
(``endpoint_url``, ``region``, ``access_key_id``, ``secret_access_key``,
``session_token``, all optional) or, when none is given, from boto3's own
configuration (``AWS_ENDPOINT_URL``, ``AWS_DEFAULT_REGION``, credentials files...).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from cadenza.model.errors import ActivityError, InputError
from cadenza.model.events import JSON

__all__ = [
    "READ_ITEMS",
    "WRITE_RESULTS",
    "S3Settings",
    "item_reader",
    "read_items",
    "register_s3_actions",
    "result_writer",
    "write_results",
]

#: The action names the States interpreter schedules.
READ_ITEMS = "states.s3.read_items"
WRITE_RESULTS = "states.s3.write_results"

_LIST = "arn:aws:states:::s3:listObjectsV2"
_GET = "arn:aws:states:::s3:getObject"
_DELIMITERS = {"COMMA": ",", "PIPE": "|", "SEMICOLON": ";", "SPACE": " ", "TAB": "\t"}
_SETTING_KEYS = ("endpoint_url", "region", "access_key_id", "secret_access_key", "session_token")


@dataclass(frozen=True)
class S3Settings:
    """Where S3 is and who calls it; a field left None is boto3's own default."""

    endpoint_url: str | None = None
    region: str | None = None
    access_key_id: str | None = None
    secret_access_key: str | None = None
    session_token: str | None = None

    @classmethod
    def from_mapping(cls, entry: Mapping[str, Any], where: str = "s3") -> S3Settings:
        """Settings from a resource map entry; ``InputError`` naming an unknown key."""
        unknown = sorted(set(entry) - set(_SETTING_KEYS) - {"_folder"})
        if unknown:
            raise InputError(
                f"resource map {where}: unknown key(s) {', '.join(unknown)} "
                f"(known: {', '.join(_SETTING_KEYS)})"
            )
        values = {key: None if entry.get(key) is None else str(entry[key]) for key in _SETTING_KEYS}
        return cls(**values)

    def client(self) -> Any:
        """A boto3 S3 client for these settings."""
        # Here: costly to import, and only S3 work needs it (boto3 has no type stubs).
        import boto3  # type: ignore[import-untyped]

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint_url,
            region_name=self.region,
            aws_access_key_id=self.access_key_id,
            aws_secret_access_key=self.secret_access_key,
            aws_session_token=self.session_token,
        )


def item_reader(settings: S3Settings) -> Callable[[JSON], JSON]:
    """The ``states.s3.read_items`` action for S3 at ``settings``."""

    def read(request: JSON) -> JSON:
        """Read a distributed Map's items from S3 (JSON, JSON Lines, CSV or a listing)."""
        if not isinstance(request, dict):
            raise _reader_failed("the item reader's request must be an object")
        arguments = request.get("Arguments") or {}
        config = request.get("ReaderConfig") or {}
        if not isinstance(arguments, dict) or not isinstance(config, dict):
            raise _reader_failed("ItemReader Parameters and ReaderConfig must be objects")
        limit = _max_items(config)
        resource = str(request.get("Resource", ""))
        try:
            if resource == _LIST:
                found = _listed_objects(settings.client(), arguments)
            elif resource == _GET:
                found = _object_items(settings.client(), arguments, config)
            else:
                raise _reader_failed(
                    f"ItemReader Resource {resource!r} is not supported here "
                    f"(use {_LIST} or {_GET})"
                )
            return _first(found, limit)
        except ActivityError:
            raise
        except Exception as exc:  # boto3's and the parsers' errors alike
            raise _reader_failed(_message(exc)) from exc

    return read


def result_writer(settings: S3Settings) -> Callable[[JSON], JSON]:
    """The ``states.s3.write_results`` action for S3 at ``settings``."""

    def write(request: JSON) -> JSON:
        """Write a distributed Map's results to S3 (manifest and result files)."""
        if not isinstance(request, dict):
            raise _writer_failed("the result writer's request must be an object")
        bucket = str(request.get("Bucket", ""))
        prefix = str(request.get("Prefix") or "").strip("/")
        arn = str(request.get("MapRunArn", ""))
        results = request.get("Results") or {}
        if not bucket or not isinstance(results, dict):
            raise _writer_failed("ResultWriter needs a Bucket")
        folder = "/".join(part for part in (prefix, arn.rsplit(":", 1)[-1]) if part)
        try:
            client = settings.client()
            files: dict[str, list[dict[str, Any]]] = {"FAILED": [], "PENDING": [], "SUCCEEDED": []}
            for status in files:
                entries = results.get(status) or []
                if not entries:
                    continue
                key = f"{folder}/{status}_0.json"
                body = json.dumps(entries, separators=(",", ":")).encode()
                client.put_object(Bucket=bucket, Key=key, Body=body)
                files[status].append({"Key": key, "Size": len(body)})
            manifest = {"DestinationBucket": bucket, "MapRunArn": arn, "ResultFiles": files}
            manifest_key = f"{folder}/manifest.json"
            client.put_object(Bucket=bucket, Key=manifest_key, Body=json.dumps(manifest).encode())
        except Exception as exc:
            raise _writer_failed(_message(exc)) from exc
        return {"Bucket": bucket, "Key": manifest_key}

    return write


def read_items(request: JSON) -> JSON:
    """``states.s3.read_items`` with boto3's own configuration (environment, files)."""
    return item_reader(S3Settings())(request)


def write_results(request: JSON) -> JSON:
    """``states.s3.write_results`` with boto3's own configuration (environment, files)."""
    return result_writer(S3Settings())(request)


def register_s3_actions(registry: Any, settings: S3Settings | None = None) -> None:
    """Serve both actions from ``registry`` (an ``ActivityRegistry``) with ``settings``."""
    chosen = settings or S3Settings()
    registry.register(READ_ITEMS, item_reader(chosen), replace=True, whole_input=True)
    registry.register(WRITE_RESULTS, result_writer(chosen), replace=True, whole_input=True)


def _max_items(config: Mapping[str, Any]) -> int:
    value = config.get("MaxItems", 0)
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise _reader_failed(f"ReaderConfig MaxItems must be a non-negative integer, not {value!r}")
    return int(value)


def _first(items: Iterator[Any], limit: int) -> list[Any]:
    out: list[Any] = []
    for item in items:
        if limit and len(out) >= limit:
            break
        out.append(item)
    return out


def _listed_objects(client: Any, arguments: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    pages = client.get_paginator("list_objects_v2").paginate(**arguments)
    for page in pages:
        for found in page.get("Contents") or []:
            yield {
                "Etag": found["ETag"],
                "Key": found["Key"],
                "LastModified": int(found["LastModified"].timestamp()),
                "Size": found["Size"],
                "StorageClass": found.get("StorageClass", "STANDARD"),
            }


def _object_items(
    client: Any, arguments: Mapping[str, Any], config: Mapping[str, Any]
) -> Iterator[Any]:
    body = client.get_object(**arguments)["Body"].read().decode("utf-8-sig")
    kind = str(config.get("InputType", "JSON")).upper()
    where = f"s3://{arguments.get('Bucket')}/{arguments.get('Key')}"
    if kind == "JSON":
        document = json.loads(body)
        if not isinstance(document, list):
            raise _reader_failed(f"{where} must hold a JSON array, not a JSON {_kind(document)}")
        return iter(document)
    if kind == "JSONL":
        return (json.loads(line) for line in body.splitlines() if line.strip())
    if kind == "CSV":
        return _csv_rows(body, config, where)
    raise _reader_failed(f"ReaderConfig InputType {kind!r} is not supported (JSON, JSONL, CSV)")


def _csv_rows(body: str, config: Mapping[str, Any], where: str) -> Iterator[dict[str, str]]:
    delimiter = _DELIMITERS.get(str(config.get("CSVDelimiter", "COMMA")).upper())
    if delimiter is None:
        raise _reader_failed(f"CSVDelimiter must be one of {', '.join(_DELIMITERS)}")
    rows = csv.reader(io.StringIO(body), delimiter=delimiter)
    location = str(config.get("CSVHeaderLocation", "FIRST_ROW")).upper()
    if location == "GIVEN":
        headers = config.get("CSVHeaders")
        if not isinstance(headers, list) or not headers:
            raise _reader_failed("CSVHeaderLocation GIVEN needs CSVHeaders, a list of names")
        names = [str(h) for h in headers]
    elif location == "FIRST_ROW":
        names = next(rows, [])
        if not names:
            raise _reader_failed(f"{where} has no header row")
    else:
        raise _reader_failed("CSVHeaderLocation must be FIRST_ROW or GIVEN")
    for number, row in enumerate(rows, start=1):
        if not row:
            continue
        if len(row) > len(names):
            raise _reader_failed(
                f"{where}: row {number} has {len(row)} fields but there are {len(names)} headers"
            )
        yield dict(zip(names, row + [""] * (len(names) - len(row)), strict=True))


def _kind(value: Any) -> str:
    return {dict: "object", str: "string", bool: "boolean"}.get(type(value), "value")


def _message(exc: Exception) -> str:
    response = getattr(exc, "response", None)
    if isinstance(response, dict) and isinstance(response.get("Error"), dict):
        error = response["Error"]
        code = error.get("Code")
        return f"{error.get('Message') or code} (Service: S3, Error Code: {code})"
    return f"{type(exc).__name__}: {exc}"


def _reader_failed(message: str) -> ActivityError:
    return ActivityError(message, type="States.ItemReaderFailed")


def _writer_failed(message: str) -> ActivityError:
    return ActivityError(message, type="States.ResultWriterFailed")
