"""Secret values, encrypted in the rows that keep them.

An ``ExecutionStarted`` records where its input's secret values sit
(``meta["secret_paths"]``, see ``cadenza.model.secrets``). When the store has
a key (``cadenza.encryption.configured_key``), the codec stores each of those
values encrypted (``"fernet:..."``, the value's JSON text encrypted) and marks
the stored event with ``meta["secrets_at_rest"] = "fernet"``; reading the
event decrypts them again, so the engine decides with the plain values and
views mask them as before. Without a key, secrets are stored as given.

Other events mark secrets too: a task's secret parameters and a task's secret
result (their ``meta["secret_paths"]``). The codec has the store remember
those (``learn``) before it stores the event, so they are sealed like every
copy of a known secret (below).

Workflows copy secrets into other values (an action's input, their state,
a text an expression builds, a command's stdout): the store remembers the
secret texts it met (``KnownSecrets``) and stores every string that holds
one, whole or inside a longer text, encrypted as well (``sealed``; the claim
text lists where, see ``cadenza.store.claim_check``), decrypted again when
read (``unsealed``). A longer text is encrypted with the secrets it holds
(``{"text": ..., "secrets": [...]}``), so a process that reads it back knows
them too and seals them where they turn up next (a task's stdout).

A reader without the key gets the encrypted texts in place of the values
(views mask them anyway); using them (deciding an execution, running its
task) is refused with ``EncryptionKeyError`` rather than hand a workflow or
an action a ciphertext.
"""

from __future__ import annotations

import copy
import json
import threading
from collections.abc import Callable, Iterable, Sequence
from typing import cast

from cadenza.encryption import SecretKey, is_encrypted
from cadenza.model.errors import EncryptionKeyError
from cadenza.model.events import JSON
from cadenza.model.secrets import secrets_at

#: The stored event's meta key that says its secrets are encrypted, and how.
AT_REST_MARK = "secrets_at_rest"
SCHEME = "fernet"

#: Gives the store's key when asked (None: no key is configured). Asked only
#: for events that have secrets, so a store without any never reads a key file.
KeySource = Callable[[], SecretKey | None]

#: A path into a JSON value: object keys and list indexes.
Path = tuple[str | int, ...]


def _paths(payload: dict[str, JSON]) -> list[Sequence[str | int]]:
    meta = payload.get("meta")
    paths = meta.get("secret_paths") if isinstance(meta, dict) else None
    return [p for p in paths if isinstance(p, list)] if isinstance(paths, list) else []


def _replace(
    payload: dict[str, JSON], path: Sequence[str | int], change: Callable[[JSON], JSON]
) -> None:
    """Apply ``change`` (a function) to the input value at ``path``, in place."""
    holder: JSON = payload
    key: str | int = "input"
    try:
        for part in path:
            holder = holder[key]
            key = part
        current = holder[key]
    except (KeyError, IndexError, TypeError):
        return  # nothing there (the path came from an older shape): nothing to change
    holder[key] = change(current)


def encrypted(payload: dict[str, JSON], key_of: KeySource, known: KnownSecrets) -> dict[str, JSON]:
    """An ``ExecutionStarted`` payload as stored: its secrets encrypted with the key
    ``key_of()`` gives (unchanged without a key or without secrets)."""
    paths = _paths(payload)
    if not paths or not isinstance(payload.get("meta"), dict):
        return payload
    key = key_of()
    if key is None:
        return payload
    known.add(secrets_at(payload.get("input"), paths))
    stored = dict(payload)
    stored["input"] = copy.deepcopy(payload.get("input"))
    for path in paths:
        _replace(stored, path, lambda value: key.encrypt(json.dumps(value, ensure_ascii=False)))
    stored["meta"] = {**cast(dict[str, JSON], payload["meta"]), AT_REST_MARK: SCHEME}
    return stored


def learn(payload: dict[str, JSON], key_of: KeySource, known: KnownSecrets) -> None:
    """Remember the secrets another event's payload marks (a task's secret
    parameters, a child's, a task's secret result: ``meta["secret_paths"]`` of
    its ``input`` or ``result``), so that they are sealed where it is stored and
    wherever they are copied after; nothing to do without a key."""
    paths = _paths(payload)
    if not paths or key_of() is None:
        return
    held = payload.get("result") if "result" in payload else payload.get("input")
    known.add(secrets_at(held, paths))


def decrypted(
    payload: dict[str, JSON], key_of: KeySource, known: KnownSecrets, *, required: bool
) -> dict[str, JSON]:
    """A stored ``ExecutionStarted`` payload with its secrets decrypted.

    Without a key the encrypted texts stay, unless ``required`` (the event is
    read to decide with): then ``EncryptionKeyError``.
    """
    meta = payload.get("meta")
    if not isinstance(meta, dict) or meta.get(AT_REST_MARK) != SCHEME:
        return payload
    execution = meta.get("execution_id")
    key = key_of()
    if key is None:
        if required:
            raise EncryptionKeyError(
                f"execution {execution} keeps its secrets encrypted and no key is configured "
                "to decrypt them: set CADENZA_KEY_FILE (or the store's key_file) to the key file "
                "they were encrypted with",
                execution_id=execution,
            )
        return payload
    for path in _paths(payload):
        _replace(
            payload,
            path,
            lambda value: json.loads(key.decrypt(value)) if is_encrypted(value) else value,
        )
    payload["meta"] = {k: v for k, v in meta.items() if k != AT_REST_MARK}
    known.add(secrets_at(payload.get("input"), _paths(payload)))
    return payload


class KnownSecrets:
    """The secret texts a store has encrypted or decrypted lately.

    Workflows copy their secrets: into an action's input, into the state their
    interpreter snapshots, into longer texts (``"Bearer " + token``, a
    command's output). Wherever a stored string holds one of these texts, the
    codec stores that string encrypted too (``sealed``), so the secret is not
    kept in clear beside its encrypted original.
    """

    def __init__(self, limit: int = 10_000) -> None:
        self.limit = limit
        self._lock = threading.Lock()
        self._texts: frozenset[str] = frozenset()

    def add(self, texts: Iterable[str]) -> None:
        """Remember ``texts`` (those shorter than four characters are too common to seal)."""
        new = {t for t in texts if len(t) >= 4}
        if not new or new <= self._texts:
            return
        with self._lock:
            known = self._texts | new
            # Forgetting some only means they may be stored in clear again.
            self._texts = known if len(known) <= self.limit else frozenset(new)

    def current(self) -> frozenset[str]:
        """The texts known now."""
        return self._texts


#: The keys of what a longer text holding secrets is encrypted as: the text and
#: the secrets found in it. Only strings and numbers are sealed, so a value
#: that decrypts to an object is always this envelope.
_TEXT = "text"
_HELD = "secrets"


def sealed(
    value: JSON, text: str, known: frozenset[str], key: SecretKey
) -> tuple[JSON, list[Path]]:
    """``value`` (whose JSON text is ``text``) with every string that holds a known
    secret, and every number that is one, encrypted, and the paths of those
    values; ``value`` itself when there is none."""
    present = [secret for secret in known if secret in text]
    if not present:
        return value, []
    # Longest first: the envelope names the longer secret when one holds another.
    present.sort(key=len, reverse=True)
    paths: list[Path] = []

    def seal(item: JSON) -> str:
        if isinstance(item, str) and item not in known:
            held = [secret for secret in present if secret in item]
            plain: JSON = {_TEXT: item, _HELD: held}
        else:
            plain = item
        return key.encrypt(json.dumps(plain, ensure_ascii=False))

    def walk(item: JSON, at: Path) -> JSON:
        if isinstance(item, str):
            if is_encrypted(item) or not any(secret in item for secret in present):
                return item
            paths.append(at)
            return seal(item)
        if isinstance(item, dict):
            return {k: walk(v, (*at, k)) for k, v in item.items()}
        if isinstance(item, list):
            return [walk(v, (*at, i)) for i, v in enumerate(item)]
        if not isinstance(item, bool) and isinstance(item, int | float) and str(item) in known:
            paths.append(at)
            return seal(item)
        return item

    result = walk(value, ())
    return (result, paths) if paths else (value, [])


def unsealed(
    value: JSON,
    paths: Sequence[Sequence[str | int]],
    key_of: KeySource,
    *,
    required: bool,
    known: KnownSecrets,
) -> JSON:
    """``value`` with the values at ``paths`` decrypted (left encrypted without a
    key, unless ``required``: then ``EncryptionKeyError``)."""
    if not paths:
        return value
    key = key_of()
    if key is None:
        if required:
            raise EncryptionKeyError(
                "a stored value holds secrets encrypted at rest and no key is configured to "
                "decrypt them: set CADENZA_KEY_FILE (or the store's key_file) to the key file "
                "they were encrypted with"
            )
        return value
    plain: list[str] = []

    def decrypt(item: JSON) -> JSON:
        if not is_encrypted(item):
            return item
        opened = json.loads(key.decrypt(str(item)))
        if isinstance(opened, dict):  # a longer text and the secrets it holds
            held = opened.get(_HELD)
            if isinstance(held, list):
                plain.extend(s for s in held if isinstance(s, str))
            return cast(JSON, opened.get(_TEXT))
        plain.append(str(opened))
        return cast(JSON, opened)

    for path in paths:
        if not path:
            value = decrypt(value)
            continue
        holder: JSON = value
        try:
            for part in path[:-1]:
                holder = holder[part]
            holder[path[-1]] = decrypt(holder[path[-1]])
        except (KeyError, IndexError, TypeError):
            continue
    known.add(plain)
    return value
