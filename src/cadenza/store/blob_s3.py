"""Blobs kept as objects in an S3-compatible bucket instead of the store's blob table.

An option for a store whose database should stay small and whose processes
share no disk: ``blob_dir="s3://bucket/prefix"`` when opening a store, or
``CADENZA_BLOB_URL`` for every store a process opens. Any S3-compatible
service works (AWS S3, MinIO, Ceph, a moto server): its address is the URL's
``endpoint_url`` query parameter, or boto3's own setting (``AWS_ENDPOINT_URL_S3``,
``AWS_ENDPOINT_URL``). Credentials and the region come from boto3's usual
places (environment, ``~/.aws``, an instance role), never from the URL, so
that a store's URL can be shown without leaking them; ``region`` may be given
in the URL too.

Each blob is one object, ``<prefix><sha256>``, put whole before the row that
refers to it commits (S3 makes an object visible only once it is complete):
a reference never points at a missing object, and a rolled-back transaction
leaves at most an object nothing refers to.

What S3 answers is translated at this boundary: a missing bucket and refused
credentials are ``StoreFault`` (trying again changes nothing until someone
fixes them), a service that cannot be reached or answers with a server error
is ``StoreUnavailable`` (the loops try again after their backoff).

``cadenza db sweep-blobs`` deletes objects nothing refers to in two steps
(``cadenza.store.blob_sweep``): first *set aside*, copied to
``<prefix>swept/<sha256>`` and deleted from their place, then deleted by a later
sweep. Readers look there when an object is not in its place.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

from cadenza.model.errors import InputError, StoreError, StoreFault, StoreUnavailable
from cadenza.store.blob_directory import SET_ASIDE, HistoryRows, KeptBlob, is_digest

#: The scheme of a blob location that is a bucket.
S3_SCHEME = "s3://"

#: What S3 answers when the credentials are wrong, expired or not allowed.
_REFUSED = frozenset(
    {
        "AccessDenied",
        "InvalidAccessKeyId",
        "SignatureDoesNotMatch",
        "ExpiredToken",
        "InvalidToken",
        "AllAccessDisabled",
        "AccountProblem",
        "403",
    }
)
_MISSING_BUCKET = frozenset({"NoSuchBucket"})
_MISSING_OBJECT = frozenset({"NoSuchKey", "404", "NotFound"})
#: Answers that may change by asking again later.
_TRANSIENT = frozenset(
    {"InternalError", "ServiceUnavailable", "SlowDown", "RequestTimeout", "Throttling", "429"}
)
_QUERY_KEYS = ("endpoint_url", "region")


def is_bucket_url(location: str) -> bool:
    """Whether a blob location names a bucket (``s3://...``) rather than a directory."""
    return location.startswith(S3_SCHEME)


@dataclass
class S3Bucket:
    """Where blobs are kept in S3: a bucket, a key prefix and the service's address.

    One client is made when first needed and shared by every thread (boto3
    clients are thread-safe).
    """

    bucket: str
    prefix: str = ""
    endpoint_url: str | None = None
    region: str | None = None
    _client: Any = field(default=None, repr=False, compare=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    @classmethod
    def from_url(cls, url: str) -> S3Bucket:
        """``s3://bucket/prefix?endpoint_url=http://host:9000&region=eu-west-1``."""
        parts = urlsplit(url)
        if parts.scheme != "s3" or not parts.netloc:
            raise InputError(f"not a bucket URL (s3://bucket/prefix): {url!r}", url=url)
        query = parse_qs(parts.query)
        unknown = sorted(set(query) - set(_QUERY_KEYS))
        if unknown:
            raise InputError(
                f"unknown setting {unknown[0]!r} in the bucket URL {url!r} "
                f"(known: {', '.join(_QUERY_KEYS)}; credentials come from boto3's configuration)",
                url=url,
            )
        prefix = parts.path.lstrip("/")
        if prefix and not prefix.endswith("/"):
            prefix += "/"
        return cls(
            bucket=parts.netloc,
            prefix=prefix,
            endpoint_url=query["endpoint_url"][-1] if "endpoint_url" in query else None,
            region=query["region"][-1] if "region" in query else None,
        )

    def describe(self) -> str:
        """The bucket for people: ``s3://bucket/prefix`` (at its endpoint, if given)."""
        where = f"s3://{self.bucket}/{self.prefix}"
        return f"{where} at {self.endpoint_url}" if self.endpoint_url else where

    def client(self) -> Any:
        """The boto3 client for this bucket's service."""
        with self._lock:
            if self._client is None:
                self._client = _new_client(self.endpoint_url, self.region)
            return self._client

    def key(self, digest: str) -> str:
        """The object key of the blob ``digest``."""
        if not is_digest(digest):
            raise StoreUnavailable(f"not a blob digest: {digest!r}")
        return self.prefix + digest

    def set_aside_key(self, digest: str) -> str:
        """The object key of the blob ``digest`` once a sweep set it aside."""
        return f"{self.prefix}{SET_ASIDE}/{self.key(digest)[len(self.prefix) :]}"

    def keys(self, digest: str) -> tuple[str, str, str]:
        """Where a reader looks for a blob, in order: its place, where a sweep sets
        it aside, and its place again (a sweep may have put it back meanwhile)."""
        key = self.key(digest)
        return key, self.set_aside_key(digest), key

    def check(self) -> None:
        """``StoreFault`` unless the bucket is there and these credentials may use it."""
        with translated(self, "reach"):
            self.client().head_bucket(Bucket=self.bucket)


def _new_client(endpoint_url: str | None, region: str | None) -> Any:
    # Imported here: costly to import, and only stores keeping blobs in S3 need
    # it (the ``aws`` extra). boto3 has no type stubs.
    try:
        import boto3  # type: ignore[import-untyped]
        from botocore.config import Config
    except ImportError as exc:
        raise InputError(
            "blobs in S3 need boto3: pip install 'cadenza[aws]'", missing="boto3"
        ) from exc
    # Bounded waits and few retries: a service that is down is reported as
    # StoreUnavailable within seconds, and the engine's own loops retry.
    config = Config(connect_timeout=5, read_timeout=60, retries={"max_attempts": 3})
    return boto3.client("s3", endpoint_url=endpoint_url, region_name=region, config=config)


@contextmanager
def translated(bucket: S3Bucket, doing: str) -> Iterator[None]:
    """Turns what boto3 raises inside the ``with`` block into the store's errors."""
    try:
        yield
    except StoreError:
        raise
    except Exception as exc:  # boto3's and botocore's errors have no common base
        raise store_error(bucket, doing, exc) from exc


def error_code(exc: BaseException) -> str:
    """The code S3 answered with (``NoSuchBucket``...), or '' for errors not from S3."""
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        code = response.get("Error", {}).get("Code")
        if code:
            return str(code)
        status = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        if status:
            return str(status)
    return ""


def store_error(bucket: S3Bucket, doing: str, exc: Exception) -> StoreError:
    """The store error for ``exc``, raised while trying to ``doing`` a blob in ``bucket``."""
    where = bucket.describe()
    code = error_code(exc)
    name = type(exc).__name__
    if code in _MISSING_BUCKET or (doing == "reach" and code in _MISSING_OBJECT):
        return StoreFault(
            f"the bucket {bucket.bucket!r} that keeps blobs does not exist ({where}): "
            "create it, or point the store at another",
            path=where,
            s3_code=code,
        )
    if code in _REFUSED or name in ("NoCredentialsError", "PartialCredentialsError"):
        return StoreFault(
            f"S3 refused the credentials for the blob bucket {where} ({code or name}): "
            "check AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY or the profile in use",
            path=where,
            s3_code=code or name,
        )
    if code and code not in _TRANSIENT and not code.startswith("5"):
        # Any other answer of S3's (an invalid bucket name, a policy) stays
        # the same however often it is asked.
        return StoreFault(
            f"S3 refused to {doing} a blob in {where}: {code}: {exc}", path=where, s3_code=code
        )
    return StoreUnavailable(
        f"cannot {doing} a blob in {where}: {name}: {exc}", path=where, s3_code=code or name
    )


class S3Blobs:
    """A blob table (``cadenza.store.blobs.BlobTable``) whose blobs are S3 objects."""

    def __init__(self, bucket: S3Bucket, rows: HistoryRows) -> None:
        self.bucket = bucket
        self.rows = rows

    def _size(self, digest: str) -> int | None:
        """The object's size, or None when it is not in its place."""
        return self._size_at(self.bucket.key(digest))

    def _size_at(self, key: str) -> int | None:
        try:
            with translated(self.bucket, "look for"):
                head = self.bucket.client().head_object(Bucket=self.bucket.bucket, Key=key)
        except StoreError as exc:
            if error_code(exc.__cause__ or exc) in _MISSING_OBJECT:
                return None
            raise
        return int(head["ContentLength"])

    def put(self, digest: str, data: bytes, now: float) -> None:
        if self._size(digest) is not None:
            return
        with translated(self.bucket, "keep"):
            self.bucket.client().put_object(
                Bucket=self.bucket.bucket,
                Key=self.bucket.key(digest),
                Body=data,
                ContentType="application/json",
            )

    def get(self, digests: Sequence[str]) -> dict[str, bytes]:
        found: dict[str, bytes] = {}
        for digest in sorted(set(digests)):
            for key in self.bucket.keys(digest):
                data = self._read(key)
                if data is not None:
                    found[digest] = data
                    break
            # Not found anywhere: the reader reports the missing blob, naming it.
        return found

    def _read(self, key: str) -> bytes | None:
        try:
            with translated(self.bucket, "read"):
                answer = self.bucket.client().get_object(Bucket=self.bucket.bucket, Key=key)
                data: bytes = answer["Body"].read()
                return data
        except StoreError as exc:
            if error_code(exc.__cause__ or exc) in _MISSING_OBJECT:
                return None
            raise

    def present(self, digest: str) -> bool:
        # Only in its place: a blob set aside is put again by ``put``.
        return self._size(digest) is not None

    def history_payloads(self, execution_id: str) -> tuple[int, list[str]]:
        return self.rows.history_payloads(execution_id)

    def execution_bytes(self, execution_id: str) -> int | None:
        # The database counts the blobs of its own table only: these are
        # counted from the history's references and the objects' sizes.
        return None

    def sizes(self, digests: Sequence[str]) -> int:
        total = 0
        for digest in set(digests):
            for key in self.bucket.keys(digest):
                size = self._size_at(key)
                if size is not None:
                    total += size
                    break
        return total


class BucketSweep:
    """What ``cadenza.store.blob_sweep`` does to a bucket of blobs."""

    def __init__(self, bucket: S3Bucket) -> None:
        self.bucket = bucket

    def describe(self) -> str:
        """The bucket, for people."""
        return self.bucket.describe()

    def listing(self) -> Iterator[KeptBlob]:
        """Every blob under the prefix, set aside or not (other keys are left alone)."""
        bucket = self.bucket
        aside = f"{SET_ASIDE}/"
        with translated(bucket, "list"):
            pages = bucket.client().get_paginator("list_objects_v2")
            for page in pages.paginate(Bucket=bucket.bucket, Prefix=bucket.prefix):
                for item in page.get("Contents", []):
                    name = str(item["Key"])[len(bucket.prefix) :]
                    size, modified = int(item["Size"]), item["LastModified"].timestamp()
                    if is_digest(name):
                        yield KeptBlob(name, size, modified, "kept")
                    elif name.startswith(aside) and is_digest(name[len(aside) :]):
                        yield KeptBlob(name[len(aside) :], size, modified, "set_aside")

    def set_aside(self, digest: str, now: float) -> None:
        """Copy the blob ``digest`` aside, then delete it from its place (the copy's
        time, S3's, is when a later sweep may delete it)."""
        self._move(self.bucket.key(digest), self.bucket.set_aside_key(digest), "set aside")

    def restore(self, digest: str) -> None:
        """Put the blob ``digest`` back in its place (a row refers to it again)."""
        self._move(self.bucket.set_aside_key(digest), self.bucket.key(digest), "put back")

    def delete(self, blob: KeptBlob) -> None:
        """Delete a blob set aside."""
        if blob.state != "set_aside":
            raise StoreUnavailable(f"a sweep deletes only blobs set aside, not {blob.name}")
        bucket = self.bucket
        with translated(bucket, "delete"):
            bucket.client().delete_object(Bucket=bucket.bucket, Key=bucket.set_aside_key(blob.name))

    def _move(self, source: str, target: str, doing: str) -> None:
        bucket = self.bucket
        try:
            with translated(bucket, doing):
                bucket.client().copy_object(
                    Bucket=bucket.bucket,
                    Key=target,
                    CopySource={"Bucket": bucket.bucket, "Key": source},
                )
        except StoreError as exc:
            if error_code(exc.__cause__ or exc) in _MISSING_OBJECT:
                return  # moved or deleted since it was listed
            raise
        with translated(bucket, doing):
            bucket.client().delete_object(Bucket=bucket.bucket, Key=source)
