"""Checking the AWS Signature Version 4 of Step Functions requests.

With credentials configured (access key id -> secret access key), each
request to the Step Functions endpoint must carry a SigV4 ``Authorization``
header made with one of them: the signature is computed again over the
request as received, with botocore's signer as the reference implementation,
and compared in constant time. A request that fails gets AWS's own error
(``MissingAuthenticationTokenException``, ``UnrecognizedClientException``,
``IncompleteSignatureException``, ``InvalidSignatureException``), so botocore
raises what AWS would. Without credentials nothing is checked, and the server
serves the endpoint on loopback only.

Credentials come from ``CADENZA_AWS_ACCESS_KEY_ID`` and
``CADENZA_AWS_SECRET_ACCESS_KEY``, or from a file named by
``CADENZA_AWS_CREDENTIALS_FILE``: either AWS's shared credentials format
(``aws_access_key_id`` / ``aws_secret_access_key`` in any section) or one
``ACCESS_KEY_ID SECRET`` pair per line. Secrets are never logged.
"""

from __future__ import annotations

import configparser
import datetime
import hashlib
import hmac
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from cadenza.model.errors import InputError

#: How far a request's ``X-Amz-Date`` may be from this server's clock (AWS: 15 min).
MAX_SKEW = 15 * 60.0

_ALGORITHM = "AWS4-HMAC-SHA256"
_UNSIGNED = "UNSIGNED-PAYLOAD"


@dataclass(frozen=True)
class SignatureRefused(Exception):
    """A request whose signature does not hold, as AWS names the reason."""

    type: str
    message: str


@dataclass(frozen=True)
class ReceivedRequest:
    """What the signature is computed over, as the server received it."""

    method: str
    path: str
    query: str
    headers: Mapping[str, str]
    body: bytes


def _parse_pairs(text: str, origin: str) -> dict[str, str]:
    found: dict[str, str] = {}
    if "aws_access_key_id" in text:
        parser = configparser.ConfigParser()
        try:
            parser.read_string(text)
        except configparser.Error as exc:
            raise InputError(f"{origin} is not an AWS credentials file: {exc}") from None
        for section in parser.sections():
            key = parser.get(section, "aws_access_key_id", fallback=None)
            secret = parser.get(section, "aws_secret_access_key", fallback=None)
            if key and secret:
                found[key.strip()] = secret.strip()
        return found
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        parts = line.split()
        if len(parts) != 2:
            # Never echo the line: it may hold a secret.
            raise InputError(
                f"{origin} line {number}: expected ACCESS_KEY_ID SECRET_ACCESS_KEY",
                line=number,
            )
        found[parts[0]] = parts[1]
    return found


def load_credentials(path: str) -> dict[str, str]:
    """The credentials in the file at ``path``; ``InputError`` if unreadable or empty."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror or exc}") from exc
    found = _parse_pairs(text, path)
    if not found:
        raise InputError(f"{path} holds no AWS credentials")
    return found


def credentials_from_environment(
    environ: Mapping[str, str] | None = None,
) -> dict[str, str] | None:
    """The credentials the environment configures, or None when it configures none."""
    env = os.environ if environ is None else environ
    found: dict[str, str] = {}
    path = env.get("CADENZA_AWS_CREDENTIALS_FILE")
    if path:
        found.update(load_credentials(path))
    key = env.get("CADENZA_AWS_ACCESS_KEY_ID")
    secret = env.get("CADENZA_AWS_SECRET_ACCESS_KEY")
    if bool(key) != bool(secret):
        raise InputError(
            "set both CADENZA_AWS_ACCESS_KEY_ID and CADENZA_AWS_SECRET_ACCESS_KEY, or neither"
        )
    if key and secret:
        found[key] = secret
    return found or None


def _authorization(header: str) -> tuple[str, list[str], list[str], str]:
    """The access key id, credential scope, signed header names and signature."""
    algorithm, _, rest = header.partition(" ")
    if algorithm != _ALGORITHM:
        raise SignatureRefused(
            "IncompleteSignatureException", f"Unsupported AWS 'algorithm': '{algorithm}'"
        )
    fields: dict[str, str] = {}
    for part in rest.split(","):
        name, sep, value = part.strip().partition("=")
        if sep:
            fields[name] = value
    missing = [n for n in ("Credential", "SignedHeaders", "Signature") if not fields.get(n)]
    if missing:
        raise SignatureRefused(
            "IncompleteSignatureException",
            f"Authorization header requires '{missing[0]}' parameter.",
        )
    credential = fields["Credential"].split("/")
    if len(credential) != 5 or credential[4] != "aws4_request":
        raise SignatureRefused(
            "IncompleteSignatureException",
            "Credential should be scoped to a valid region, like 'us-east-1'.",
        )
    return credential[0], credential[1:4], fields["SignedHeaders"].split(";"), fields["Signature"]


def require_signer() -> None:
    """Refuse to check signatures without botocore, the reference signer."""
    try:
        import botocore.auth  # noqa: F401
    except ImportError:
        raise InputError(
            "checking AWS signatures needs botocore: pip install 'cadenza[aws]' "
            "(or unset the CADENZA_AWS_* credentials)"
        ) from None


def verify(request: ReceivedRequest, credentials: Mapping[str, str], now: datetime.datetime) -> str:
    """Check ``request``'s signature; returns the access key id that signed it.

    Raises ``SignatureRefused`` with AWS's error type and message otherwise.
    """
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    headers = {name.lower(): value for name, value in request.headers.items()}
    header = headers.get("authorization")
    if not header:
        raise SignatureRefused(
            "MissingAuthenticationTokenException", "Missing Authentication Token"
        )
    key_id, scope, signed, given = _authorization(header)
    secret = credentials.get(key_id)
    if secret is None:
        raise SignatureRefused(
            "UnrecognizedClientException", "The security token included in the request is invalid."
        )
    stamp = headers.get("x-amz-date", "")
    try:
        sent = datetime.datetime.strptime(stamp, "%Y%m%dT%H%M%SZ").replace(tzinfo=datetime.UTC)
    except ValueError:
        raise SignatureRefused(
            "IncompleteSignatureException", "Authorization header requires existence of X-Amz-Date."
        ) from None
    if abs((now - sent).total_seconds()) > MAX_SKEW or scope[0] != stamp[:8]:
        raise SignatureRefused(
            "InvalidSignatureException",
            f"Signature expired: {stamp} is now earlier or later than the allowed 15 minutes "
            "from the server's time.",
        )
    missing = [name for name in signed if name not in headers]
    if "host" not in signed or missing:
        raise SignatureRefused(
            "IncompleteSignatureException",
            "The signed headers must include host and be present in the request.",
        )
    content_hash = headers.get("x-amz-content-sha256")
    if content_hash not in (None, _UNSIGNED) and not hmac.compare_digest(
        content_hash, hashlib.sha256(request.body).hexdigest()
    ):
        raise SignatureRefused(
            "InvalidSignatureException", "The provided x-amz-content-sha256 header does not match."
        )
    url = f"http://{headers['host']}{request.path}"
    if request.query:
        url += f"?{request.query}"
    # Only the headers the client signed, as it sent them: botocore's signer
    # then builds the same canonical request the client built.
    copied = AWSRequest(
        method=request.method,
        url=url,
        data=request.body,
        headers={name: headers[name] for name in signed},
    )
    copied.context["timestamp"] = stamp
    signer = SigV4Auth(Credentials(key_id, secret), scope[2], scope[1])
    canonical = signer.canonical_request(copied)
    expected = signer.signature(signer.string_to_sign(copied, canonical), copied)
    if not hmac.compare_digest(expected.encode(), given.encode()):
        raise SignatureRefused(
            "InvalidSignatureException",
            "The request signature we calculated does not match the signature you provided. "
            "Check your AWS Secret Access Key and signing method.",
        )
    return key_id
