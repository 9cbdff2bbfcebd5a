"""Secret values in an execution's input: marked by the caller, masked on display.

A caller marks a value secret by wrapping it: ``{"password": {"$secret":
"hunter2"}}``. The execution sees the plain value (its actions need it), and
history keeps it, since history is the truth; what the engine records besides
is where the secrets sit (``ExecutionStarted.meta["secret_paths"]``). Every
view for people and other programs (the HTTP API, ``cadenza history`` and
``status``, progress lines) masks each secret value wherever it appears,
whole or inside a longer text, as ``"***"``.

A front end marks secrets the same way in what it decides: a ``TaskScheduled`` or
``ChildStarted`` whose ``meta["secret_paths"]`` names paths of its ``input`` (the
Orquesta front end does so for action parameters whose metadata says ``secret:
true``). A child execution started so finds them in ``meta["parent"]``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from cadenza.model.events import JSON, ChildStarted, Event, ExecutionStarted, TaskScheduled

#: The key that marks a value secret.
SECRET_MARK = "$secret"

#: The ``meta`` key listing where an event's input holds secrets.
SECRET_PATHS = "secret_paths"

#: What a secret value shows as.
MASK = "***"

#: A path into a JSON value: object keys and list indexes.
Path = tuple[str | int, ...]


def unwrap_secrets(value: JSON, at: Path = ()) -> tuple[JSON, list[Path]]:
    """``value`` with every ``{"$secret": v}`` replaced by ``v``, and the paths
    where they were."""
    if isinstance(value, dict):
        if set(value) == {SECRET_MARK}:
            return value[SECRET_MARK], [at]
        plain: dict[str, JSON] = {}
        paths: list[Path] = []
        for key, item in value.items():
            plain[key], found = unwrap_secrets(item, (*at, key))
            paths += found
        return plain, paths
    if isinstance(value, list):
        items: list[JSON] = []
        paths = []
        for index, item in enumerate(value):
            plain_item, found = unwrap_secrets(item, (*at, index))
            items.append(plain_item)
            paths += found
        return items, paths
    return value, []


def secrets_at(value: JSON, paths: Iterable[Sequence[str | int]]) -> list[str]:
    """The secret values at ``paths`` of ``value``, as the texts to mask."""
    found: list[str] = []
    for path in paths:
        current = value
        try:
            for part in path:
                current = current[part]
        except (KeyError, IndexError, TypeError):
            continue
        if isinstance(current, str):
            found.append(current)
        elif current is not None and not isinstance(current, dict | list):
            found.append(str(current))
    # Longest first: a secret inside another is masked as part of the longer one.
    return sorted({s for s in found if s}, key=len, reverse=True)


def recorded_secrets(event: Event) -> list[str]:
    """The secret texts an event of history marks: those of an execution's input
    (its own ``$secret`` marks and, for a child, those its parent's task marked)
    and those of a task's or child's input."""
    if isinstance(event, ExecutionStarted):
        parent = event.meta.get("parent")
        paths = list(_paths(event.meta))
        if isinstance(parent, dict):
            paths += _paths(parent)
        return secrets_at(event.input, paths)
    if isinstance(event, TaskScheduled | ChildStarted):
        return secrets_at(event.input, _paths(event.meta))
    return []


def _paths(meta: dict[str, JSON]) -> list[Sequence[str | int]]:
    found = meta.get(SECRET_PATHS)
    if not isinstance(found, list):
        return []
    return [p for p in found if isinstance(p, list)]


def mask(value: JSON, secrets: Sequence[str]) -> JSON:
    """``value`` with every secret text replaced by ``MASK``, in keys too."""
    if not secrets:
        return value
    if isinstance(value, str):
        for secret in secrets:
            if secret in value:
                value = value.replace(secret, MASK)
        return value
    if isinstance(value, dict):
        return {mask(k, secrets): mask(v, secrets) for k, v in value.items()}
    if isinstance(value, list):
        return [mask(item, secrets) for item in value]
    if not isinstance(value, bool) and isinstance(value, int | float) and str(value) in secrets:
        return MASK
    return value
