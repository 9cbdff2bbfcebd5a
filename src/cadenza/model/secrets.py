"""Secret values in an execution's input: marked by the caller, masked on display.

A caller marks a value secret by wrapping it: ``{"password": {"$secret":
"hunter2"}}``. The execution sees the plain value (its actions need it), and
history keeps it, since history is the truth; what the engine records besides
is where the secrets sit (``ExecutionStarted.meta["secret_paths"]``). Every
view for people and other programs (the HTTP API, ``cadenza history`` and
``status``, progress lines) masks each secret value wherever it appears,
whole or inside a longer text, as ``"***"``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from cadenza.model.events import JSON

#: The key that marks a value secret.
SECRET_MARK = "$secret"

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
