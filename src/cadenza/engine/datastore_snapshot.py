"""Recording, when an execution starts, the datastore values it may read.

Interpreters are pure and never read the store, yet StackStorm workflows read
its datastore (``st2kv``). So the engine reads the entries a definition may
read (its interpreter's ``datastore_keys()``, see
``cadenza.interpreters.protocol.datastore_keys_of``) when it starts an
execution, and records them in ``ExecutionStarted.meta["datastore"]``::

    {"user": "alice",                       # the user the execution runs as
     "system": {"api_url": "https://..."},  # system-scope values by key
     "user_scope": {"token": "fernet:..."}, # that user's values by key
     "encrypted": {"system": [], "user": ["token"]},
     "partial": []}                         # scopes cut at the bound

Encrypted values stay encrypted in the record (decrypting needs the key file).
A value changed after the start is not seen by the running execution, and a
replay reads the same values. Child executions read their parent's record.

A key computed when the workflow runs makes the whole scope recorded, up to
``MAX_SCOPE_ENTRIES`` entries (the first by key, and every key named
literally); a scope cut there is listed in ``partial``, and a key missing
from it says so when read.
"""

from __future__ import annotations

import getpass
from collections.abc import Mapping

from cadenza.interpreters.protocol import (
    DatastoreKeys,
    Decrypter,
    Interpreter,
    datastore_keys_of,
)
from cadenza.model.errors import CadenzaError
from cadenza.model.events import JSON
from cadenza.store.datastore import SYSTEM_SCOPE, USER_SCOPE, DatastoreEntry
from cadenza.store.protocol import KeyValues

#: Where the record goes in ``ExecutionStarted.meta``.
META_KEY = "datastore"

#: The most entries of one scope recorded for keys computed at run time.
MAX_SCOPE_ENTRIES = 1000

#: StackStorm's name for the user actions run as when nobody is named.
FALLBACK_USER = "stanley"


def default_user() -> str:
    """The user an execution runs as, and ``cadenza kv --scope user`` writes for,
    when none is named: the operating system's user."""
    try:
        return getpass.getuser()
    except (OSError, KeyError):  # no login name in some containers
        return FALLBACK_USER


def user_of(context: Mapping[str, JSON] | None) -> str:
    """The user an execution started with ``context`` runs as: ``st2.user`` of the
    start context when given, else :func:`default_user`."""
    st2 = (context or {}).get("st2")
    if isinstance(st2, Mapping) and isinstance(st2.get("user"), str) and st2["user"]:
        return str(st2["user"])
    return default_user()


def record(store: KeyValues, keys: DatastoreKeys, user: str) -> dict[str, JSON] | None:
    """The record of the entries ``keys`` names, as they are now; None when the
    definition reads none."""
    if not keys:
        return None
    values: dict[str, dict[str, str]] = {SYSTEM_SCOPE: {}, USER_SCOPE: {}}
    encrypted: dict[str, list[str]] = {SYSTEM_SCOPE: [], USER_SCOPE: []}
    partial: list[str] = []
    for scope, named in ((SYSTEM_SCOPE, keys.system), (USER_SCOPE, keys.user)):
        owner = user if scope == USER_SCOPE else ""
        found: list[DatastoreEntry] = []
        if scope in keys.whole:
            every = store.kv_list(scope=scope, user=owner)
            if len(every) > MAX_SCOPE_ENTRIES:
                partial.append(scope)
                every = every[:MAX_SCOPE_ENTRIES] + [e for e in every if e.key in named]
            found = every
        else:
            for key in sorted(named):
                entry = store.kv_get(scope, key, owner)
                if entry is not None:
                    found.append(entry)
        for entry in found:
            values[scope][entry.key] = entry.value
            if entry.encrypted:
                encrypted[scope].append(entry.key)
    return {
        "user": user,
        "system": dict(values[SYSTEM_SCOPE]),
        "user_scope": dict(values[USER_SCOPE]),
        "encrypted": {scope: sorted(set(names)) for scope, names in encrypted.items()},
        "partial": partial,
    }


def start_meta(
    store: KeyValues, interpreter: Interpreter, context: Mapping[str, JSON] | None
) -> dict[str, JSON]:
    """What ``Engine.start`` adds to ``ExecutionStarted.meta`` for an execution of
    ``interpreter``'s definition: the record, if it reads the datastore."""
    keys = datastore_keys_of(interpreter)
    if not keys:
        return {}  # most definitions: no user lookup, no read
    found = record(store, keys, user_of(context))
    return {} if found is None else {META_KEY: found}


def decrypted_secrets(meta: Mapping[str, JSON], key: Decrypter | None) -> list[str]:
    """The clear texts of the encrypted values an execution recorded, to mask
    wherever the execution is shown (a workflow may decrypt them); none
    without the key, which could not decrypt them either."""
    recorded = meta.get(META_KEY)
    if key is None or not isinstance(recorded, Mapping):
        return []
    encrypted = recorded.get("encrypted")
    found: list[str] = []
    for scope, values_key in ((SYSTEM_SCOPE, "system"), (USER_SCOPE, "user_scope")):
        values = recorded.get(values_key)
        names = encrypted.get(scope) if isinstance(encrypted, Mapping) else None
        if not isinstance(values, Mapping) or not isinstance(names, list):
            continue
        for name in names:
            try:
                found.append(key.decrypt(str(values.get(name))))
            except CadenzaError:
                continue  # encrypted with another key: nothing shows it in clear
    return found
