"""The claim-check: large parts of a stored value go to the blob table, the row
keeps a reference, and every read puts the value back together.

A value whose JSON text is at most the inline threshold is stored as that
text. A larger one is split: each part above the threshold (a long string, a
big list or object, or the whole value) is kept as a blob and left out of the
row, which holds ``@claim:`` followed by a JSON object::

    {"v": <the value with null where parts were taken out>,
     "b": [[<path of a part>, "<sha256 of its text>"], ...],
     "s": [<path of a string encrypted at rest>, ...]}

(``"s"`` only when the value holds secrets, see ``secrets_at_rest``; a small
value holding one is stored as a claim with no parts.)

No JSON text starts with ``@``, so a reference is never mistaken for a value,
and since paths sit beside the value, no value of a user's is mistaken for a
reference. Parts are cut where they are large, not at fixed places: the same
long string in an event and in a snapshot is one blob, kept once.

Readers never see references: the codec resolves them as rows are read, so
interpreters, history views and the API get the value as it was given.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from typing import cast

from cadenza.model.errors import HistoryCorrupt
from cadenza.model.events import JSON
from cadenza.store.blobs import (
    CLAIM_PREFIX,
    BlobTable,
    PayloadScope,
    current_scope,
    required_scope,
)
from cadenza.store.secrets_at_rest import unsealed

#: Parts nested deeper than this are kept whole rather than cut further.
_MAX_DEPTH = 32

Path = tuple[str | int, ...]


def _text(value: JSON) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def text_size(text: str) -> int:
    """The length of ``text`` in bytes (UTF-8)."""
    return len(text) if text.isascii() else len(text.encode("utf-8"))


def is_claim(text: str) -> bool:
    """Whether a stored text holds blob references."""
    return text.startswith(CLAIM_PREFIX)


def stored_text(value: JSON, text: str, sealed: Sequence[Path] = ()) -> str:
    """What to store for ``value`` (whose JSON text is ``text``): the text itself,
    or, above the inline threshold of the current store, a claim whose parts
    are written to its blob table now (in the caller's transaction).

    ``sealed`` are the paths of strings encrypted at rest in ``value`` (see
    ``secrets_at_rest.sealed``): the claim lists them, to decrypt when read.
    """
    scope = current_scope()
    if scope is None:
        return text
    limit = scope.options.limits.inline_bytes
    # A character is at most four bytes: most texts are decided without encoding.
    if not sealed and (len(text) * 4 <= limit or text_size(text) <= limit):
        return text
    parts: list[tuple[Path, str]] = []
    skeleton = _split(value, text_size(text), (), limit, parts, scope, whole=text)
    claim: dict[str, JSON] = {"v": skeleton, "b": [[list(path), d] for path, d in parts]}
    if sealed:
        claim["s"] = [list(path) for path in sealed]
    return CLAIM_PREFIX + _text(claim)


def _estimate(value: JSON, depth: int = 0) -> int:
    """About the length of ``value``'s JSON text, without making it (escapes are
    not counted): large values are measured once per level, not encoded."""
    if isinstance(value, str):
        return len(value) + 2
    if depth < _MAX_DEPTH and isinstance(value, dict):
        return 2 + sum(len(k) + 4 + _estimate(v, depth + 1) for k, v in value.items())
    if depth < _MAX_DEPTH and isinstance(value, list):
        return 2 + sum(_estimate(v, depth + 1) + 1 for v in value)
    # Scalars are measured without encoding them: a batch of thousands of events
    # holds hundreds of thousands of numbers and nulls.
    if value is None or value is True:
        return 4
    if value is False:
        return 5
    if isinstance(value, int):
        return len(str(value))
    if isinstance(value, float):
        return len(repr(value))
    return len(_text(value))


def _split(
    value: JSON,
    size: int,
    path: Path,
    limit: int,
    parts: list[tuple[Path, str]],
    scope: PayloadScope,
    whole: str | None = None,
) -> JSON:
    """``value`` with its parts above ``limit`` taken out (into ``parts``)."""
    if size <= limit:
        return value
    if len(path) < _MAX_DEPTH and isinstance(value, dict | list) and value:
        items: list[tuple[str | int, JSON]] = (
            list(value.items()) if isinstance(value, dict) else list(enumerate(value))
        )
        # Kept whole when its small items alone are over the limit: cutting
        # thousands of small items out one by one would not make the row small.
        # The walk stops as soon as that is known (a large batch of small events).
        sizes: list[int] = []
        small = 0
        for key, item in items:
            item_size = _estimate(item)
            sizes.append(item_size)
            if item_size <= limit:
                small += item_size
            small += len(str(key)) + 4
            if small > limit:
                break
        if small <= limit:
            kept = [
                _split(item, item_size, (*path, key), limit, parts, scope)
                for (key, item), item_size in zip(items, sizes, strict=True)
            ]
            if isinstance(value, dict):
                return {str(key): item for (key, _), item in zip(items, kept, strict=True)}
            return kept
    parts.append((path, _kept(value, whole, scope)))
    return None


def _kept(value: JSON, whole: str | None, scope: PayloadScope) -> str:
    """Keep ``value`` (whose text is ``whole``, when known) as a blob; its digest."""
    cache = scope.options.digests
    # A long string met again (a result a workflow keeps in its state) is not
    # encoded and hashed again, if its blob is there.
    digest = cache.get(value) if isinstance(value, str) else None
    if digest is not None and scope.blobs.present(digest):
        return digest
    data = (whole if whole is not None else _text(value)).encode("utf-8")
    digest = hashlib.sha256(data).hexdigest()
    scope.blobs.put(digest, data, scope.options.now())
    if isinstance(value, str):
        cache.add(value, digest)
    return digest


def referenced(texts: Sequence[str]) -> list[str]:
    """The digests of the blobs these stored texts refer to."""
    digests: list[str] = []
    for text in texts:
        if is_claim(text):
            try:
                digests += [str(d) for _path, d in json.loads(text[len(CLAIM_PREFIX) :])["b"]]
            except (ValueError, KeyError, TypeError) as exc:
                raise HistoryCorrupt("a stored blob reference is malformed") from exc
    return digests


def stored_bytes(blobs: BlobTable, execution_id: str) -> int:
    """What an execution's history keeps, in bytes: its rows and the blobs they
    refer to. Read from the count its row keeps (migration 0008), or, for blobs
    kept as files, added up from the history (each blob counted once)."""
    counted = blobs.execution_bytes(execution_id)
    if counted is not None:
        return counted
    inline, claims = blobs.history_payloads(execution_id)
    return inline + blobs.sizes(referenced(claims))


def resolved(text: str) -> JSON:
    """The value a stored text holds, its blobs read back."""
    if not is_claim(text):
        return cast(JSON, json.loads(text))
    try:
        claim = json.loads(text[len(CLAIM_PREFIX) :])
        value: JSON = claim["v"]
        references = [(tuple(path), str(digest)) for path, digest in claim["b"]]
        sealed = [list(path) for path in claim.get("s", [])]
    except (ValueError, KeyError, TypeError) as exc:
        raise HistoryCorrupt("a stored blob reference is malformed") from exc
    scope = required_scope("a value kept in the blob table or encrypted at rest")
    found = scope.blobs.get([digest for _path, digest in references])
    for path, digest in references:
        data = found.get(digest)
        if data is None:
            raise HistoryCorrupt(
                f"the blob sha256:{digest} a stored value refers to is missing", digest=digest
            )
        part = cast(JSON, json.loads(data.decode("utf-8")))
        if not path:
            value = part
            continue
        holder = value
        for key in path[:-1]:
            holder = holder[key]
        holder[path[-1]] = part
    options = scope.options
    return unsealed(value, sealed, options.key, required=scope.deciding, known=options.secrets)
