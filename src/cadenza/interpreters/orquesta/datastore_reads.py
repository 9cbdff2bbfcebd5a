"""What an Orquesta workflow reads of StackStorm's datastore and action context.

The interpreter is pure: it never reads the store. Instead the engine records,
when an execution starts, the datastore values it may read
(``ExecutionStarted.meta["datastore"]``), and the interpreter answers
``st2kv()`` from that record, so a replay reads the same values. What to
record is told here, from the definition's text and the metadata of the
actions it calls:

* a literal key (``st2kv('system.x')``, ``st2kv('x')``, ``st2kv.system.x``,
  ``st2kv.user.x``) names one entry (``system.`` keys in the system scope,
  others in the user scope of the user the execution runs as);
* a key computed when the workflow runs (``st2kv(ctx().name)``,
  ``st2kv.system[...]``), or a workflow action (its child may read any key),
  makes the engine record the whole scope, up to its bound;
* ``ctx().st2`` (StackStorm's context: user, execution ids) and
  ``action_context`` in parameter defaults need the user the execution runs as.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from cadenza.expressions.functions import DatastoreView
from cadenza.interpreters.orquesta.actions import ActionCatalog
from cadenza.interpreters.protocol import DatastoreKeys

#: Where the engine records the datastore values in ``ExecutionStarted.meta``.
DATASTORE_META = "datastore"

_SYSTEM = "system"
_USER = "user"

#: ``st2kv('key')`` or ``st2kv("key", ...)``: a literal key (not ``'system.' + name``).
_LITERAL_CALL = re.compile(r"""\bst2kv\s*\(\s*(['"])([^'"]+)\1\s*[,)]""")
#: Any call of ``st2kv(``.
_ANY_CALL = re.compile(r"\bst2kv\s*\(")
#: ``st2kv.system.key`` / ``st2kv.user.key``.
_ATTRIBUTE = re.compile(r"\bst2kv\s*\.\s*(system|user)\s*\.\s*([A-Za-z_][A-Za-z0-9_]*)")
#: ``st2kv.system`` / ``st2kv.user`` not followed by ``.name``: read by a computed key.
_WHOLE_SCOPE = re.compile(r"\bst2kv\s*\.\s*(system|user)\b(?!\s*\.\s*[A-Za-z_])")
#: The workflow reads StackStorm's context (``ctx().st2``, ``ctx('st2')``, ``ctx(st2)``).
_ST2_CONTEXT = re.compile(r"""ctx\(\s*\)\s*\.\s*st2\b|ctx\(\s*['"]?st2['"]?\s*\)|\$\.st2\b""")
#: A parameter default reads the action context.
_ACTION_CONTEXT = re.compile(r"\baction_context\b")


def datastore_keys(
    texts: Iterable[str], *, calls_workflows: bool = False, reads_context: bool = False
) -> DatastoreKeys:
    """The datastore entries ``texts`` (a definition, parameter defaults) read."""
    system: set[str] = set()
    user: set[str] = set()
    whole: set[str] = set()
    context = reads_context
    for text in texts:
        if "st2" not in text and "action_context" not in text:
            continue
        literal = 0
        for match in _LITERAL_CALL.finditer(text):
            literal += 1
            key = match.group(2)
            if key == _SYSTEM + ".":
                literal -= 1  # not a key: counted as computed below
            elif key.startswith(_SYSTEM + "."):
                system.add(key[len(_SYSTEM) + 1 :])
            else:
                user.add(key)
        if len(_ANY_CALL.findall(text)) > literal:
            whole.update((_SYSTEM, _USER))
        for match in _ATTRIBUTE.finditer(text):
            (system if match.group(1) == _SYSTEM else user).add(match.group(2))
        whole.update(match.group(1) for match in _WHOLE_SCOPE.finditer(text))
        if _ST2_CONTEXT.search(text) or _ACTION_CONTEXT.search(text):
            context = True
    if calls_workflows:
        # A child execution reads what its parent recorded, and its keys are not
        # known here: record every scope.
        whole.update((_SYSTEM, _USER))
    return DatastoreKeys(
        system=frozenset(system),
        user=frozenset(user),
        whole=frozenset(whole),
        user_context=context or bool(user) or _USER in whole,
    )


def definition_texts(
    source: str, actions: Iterable[str | None], catalog: ActionCatalog
) -> list[str]:
    """The definition's text and the defaults of the pack actions it calls."""
    texts = [source]
    for ref in actions:
        spec = catalog.get(ref)
        if spec is None:
            continue
        texts.extend(
            str(p.default) for p in spec.parameters if p.has_default and p.default is not None
        )
    return texts


def reads_st2_context(source: str) -> bool:
    """Whether the workflow reads ``ctx().st2``."""
    return _ST2_CONTEXT.search(source) is not None


def view_of(
    recorded: Any,
    override: Mapping[str, Any],
    decrypt: Callable[[str], str] | None,
) -> Mapping[str, Any]:
    """What ``st2kv()`` answers from: the recorded values (``recorded``, as the
    engine wrote them) under the map given to the front end in code."""
    if not isinstance(recorded, Mapping):
        if decrypt is None:
            return override  # a map given in code, read exactly as before
        return DatastoreView(override=override, decrypt=decrypt)
    return DatastoreView(
        recorded.get(_SYSTEM) or {},
        recorded.get("user_scope") or {},
        encrypted=recorded.get("encrypted") or {},
        partial=recorded.get("partial") or (),
        decrypt=decrypt,
        override=override,
    )


def st2_context(meta: Mapping[str, Any]) -> dict[str, Any]:
    """StackStorm's ``ctx().st2`` for the execution ``meta`` describes."""
    recorded = meta.get(DATASTORE_META)
    user = recorded.get("user") if isinstance(recorded, Mapping) else None
    execution_id = meta.get("execution_id")
    name = str(meta.get("definition_name") or "")
    context: dict[str, Any] = {
        "user": user,
        "action_execution_id": execution_id,
        "workflow_execution_id": execution_id,
        "pack": name.split(".", 1)[0] if "." in name else None,
    }
    parent = meta.get("parent")
    if isinstance(parent, Mapping) and parent.get("execution_id"):
        context["parent_execution_id"] = parent["execution_id"]
    return context


def action_context(st2: Mapping[str, Any]) -> dict[str, Any]:
    """StackStorm's ``action_context`` for an action a task of the execution runs
    (``st2`` is the execution's :func:`st2_context`): who runs it, and the
    workflow execution that is its parent."""
    user = st2.get("user")
    return {
        "user": user,
        "api_user": user,
        "pack": st2.get("pack"),
        "parent": {"execution_id": st2.get("action_execution_id"), "user": user},
    }
