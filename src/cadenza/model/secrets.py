"""Secret values: marked where they enter, plain for the workflow, masked on display.

A value is marked secret by wrapping it: ``{"password": {"$secret":
"hunter2"}}``. The mark is the same wherever a value enters an execution:

- a caller's input (``Engine.start``, ``cadenza run --input``), or the
  values at paths the caller lists (``--secret-path '$.password'``, the
  API's ``secret_paths``; :func:`mark_secrets` puts the marks there);
- an action's result: an activity returns marked values (the code front
  end's ``@activity(secret_result=...)`` marks them for it; a pack action's
  ``output_schema`` marks properties ``secret: true``).

The execution sees the plain value (its actions need it), and history keeps
it, since history is the truth; what the engine records besides is where the
secrets sit (``meta["secret_paths"]`` of the event that brought them:
``ExecutionStarted`` for the input, ``TaskCompleted`` for a result). Every
view for people and other programs (the HTTP API, ``cadenza history`` and
``status``, progress lines) masks each secret value wherever it appears,
whole or inside a longer text, as ``"********"`` (eight asterisks, whatever
the value's length, so the mask tells nothing about it).

A front end marks secrets the same way in what it decides: a ``TaskScheduled`` or
``ChildStarted`` whose ``meta["secret_paths"]`` names paths of its ``input`` (the
Orquesta front end does so for action parameters whose metadata says ``secret:
true``). A child execution started so finds them in ``meta["parent"]``.

Secrets can also be declared beside the definition rather than by the code that
produces them (:class:`SecretDeclaration`, ``cadenza run --secrets FILE``): paths
of the input, marked at start as above, and paths of the results of named steps.
The latter are recorded with the execution (its start context's
``secret_results``, step name -> path texts); a front end that honours them puts
the paths on each task of such a step (``ScheduleTask.meta["secret_result"]``),
and the worker that records the task's result marks the values there
(:func:`mark_declared_result`) before it records them, as if the action had
marked them itself. Declared paths thus travel with the execution: every process
that runs its tasks applies them, with no configuration of its own.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from cadenza.model.errors import InputError
from cadenza.model.events import (
    JSON,
    ChildStarted,
    Event,
    ExecutionStarted,
    TaskCompleted,
    TaskScheduled,
)

#: The key that marks a value secret.
SECRET_MARK = "$secret"

#: The ``meta`` key listing where an event's input holds secrets.
SECRET_PATHS = "secret_paths"

#: What a secret value shows as.
MASK = "********"

#: The start context key declaring secret paths of results, by step name.
SECRET_RESULTS = "secret_results"

#: The ``meta`` key of a scheduled task listing the secret paths of its result.
SECRET_RESULT = "secret_result"

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
    (its own ``$secret`` marks and, for a child, those its parent's task marked),
    those of a task's or child's input, and those of a task's result."""
    if isinstance(event, ExecutionStarted):
        parent = event.meta.get("parent")
        paths = list(_paths(event.meta))
        if isinstance(parent, dict):
            paths += _paths(parent)
        return secrets_at(event.input, paths)
    if isinstance(event, TaskScheduled | ChildStarted):
        return secrets_at(event.input, _paths(event.meta))
    if isinstance(event, TaskCompleted):
        # A result's secrets, where the worker recorded their places.
        meta = getattr(event, "meta", None)
        return secrets_at(event.result, _paths(meta)) if isinstance(meta, dict) else []
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


#: A pattern of a path: object keys, list indexes, and ``None`` for "every item".
PathPattern = tuple[str | int | None, ...]

_STEP = re.compile(
    r"""\.(?P<name>[A-Za-z_][\w-]*|\*)"""
    r"""|\[(?:(?P<index>\d+)|(?P<all>\*)|'(?P<single>[^']*)'|"(?P<double>[^"]*)")\]"""
)


def parse_path(text: str) -> PathPattern:
    """The path a JSONPath-like text names: ``$``, then ``.name``, ``['name']``,
    ``[0]`` or ``[*]``/``.*`` (every item) steps (``$.users[*].password``).

    Raises ``InputError`` naming the text when it is not such a path.
    """
    written = text.strip()
    if not written.startswith("$"):
        raise InputError(
            f"secret path {text!r} must start with '$' (as in '$.password')", path=text
        )
    steps: list[str | int | None] = []
    at = 1
    while at < len(written):
        found = _STEP.match(written, at)
        if found is None:
            raise InputError(
                f"secret path {text!r}: cannot read it from position {at} "
                "(use .name, ['name'], [0] or [*] steps)",
                path=text,
            )
        if found["index"] is not None:
            steps.append(int(found["index"]))
        elif found["all"] is not None or found["name"] == "*":
            steps.append(None)
        else:
            name = found["name"] or found["single"] or found["double"]
            steps.append(name if name is not None else "")
        at = found.end()
    return tuple(steps)


def mark_secrets(
    value: JSON, patterns: Iterable[PathPattern | str], *, required: bool = False
) -> JSON:
    """``value`` with the values at ``patterns`` (paths or their texts, see
    :func:`parse_path`) wrapped as ``{"$secret": value}``; a value marked
    already stays as it is, and ``()`` (``"$"``) marks the whole value.

    A path that leads nowhere marks nothing; with ``required``, a path without
    ``[*]`` that leads nowhere is an ``InputError`` instead (a mistyped path
    would leave the secret unmarked).
    """
    for given in patterns:
        pattern = parse_path(given) if isinstance(given, str) else given
        marked = _marked(value, pattern)
        if required and marked == value and None not in pattern and not _is_marked(value, pattern):
            shown = given if isinstance(given, str) else "$" + "".join(f"[{s!r}]" for s in pattern)
            raise InputError(f"secret path {shown} leads to no value of the input", path=shown)
        value = marked
    return value


def _is_marked(value: JSON, pattern: PathPattern) -> bool:
    """Whether the value at ``pattern`` (no wildcards) is marked already."""
    for step in pattern:
        try:
            value = value[step]
        except (KeyError, IndexError, TypeError):
            return False
    return isinstance(value, dict) and set(value) == {SECRET_MARK}


def _marked(value: JSON, pattern: PathPattern) -> JSON:
    if isinstance(value, dict) and set(value) == {SECRET_MARK}:
        return value
    if not pattern:
        return None if value is None else {SECRET_MARK: value}
    step, rest = pattern[0], pattern[1:]
    if isinstance(value, dict):
        if step is None:
            return {k: _marked(v, rest) for k, v in value.items()}
        if isinstance(step, str) and step in value:
            return {**value, step: _marked(value[step], rest)}
    elif isinstance(value, list):
        if step is None:
            return [_marked(v, rest) for v in value]
        if isinstance(step, int) and 0 <= step < len(value):
            return [_marked(v, rest) if i == step else v for i, v in enumerate(value)]
    return value


def secret_meta(value: JSON) -> tuple[JSON, dict[str, JSON]]:
    """``value`` without its ``{"$secret": v}`` marks, and the ``meta`` that records
    where they were (empty when there were none): what a worker records of a
    result an action marked."""
    plain, paths = unwrap_secrets(value)
    return plain, ({SECRET_PATHS: [list(p) for p in paths]} if paths else {})


def mark_declared_result(result: JSON, task_meta: Mapping[str, JSON]) -> JSON:
    """``result`` with the values at the paths its task's ``meta["secret_result"]``
    declares marked ``{"$secret": value}`` (``result`` itself when none does).

    The paths were checked when the execution started; one that does not parse
    (a start that bypassed the check) marks nothing rather than fail the task.
    """
    declared = task_meta.get(SECRET_RESULT)
    if not isinstance(declared, list) or not declared:
        return result
    marked = result
    for text in declared:
        if isinstance(text, str):
            try:
                marked = mark_secrets(marked, [text])
            except InputError:
                continue
    return marked


def step_path(text: str) -> tuple[str, str]:
    """The step name and the path of a ``STEP:PATH`` text (``Login:$.token``), the
    path checked (:func:`parse_path`); ``InputError`` when it is not such a text."""
    step, found, path = text.partition(":$")
    if not found or not step:
        raise InputError(
            f"secret result {text!r} must be STATE:PATH, as in 'Login:$.token'", path=text
        )
    parse_path("$" + path)
    return step, "$" + path


@dataclass(frozen=True)
class SecretDeclaration:
    """Secret paths declared beside a definition: of its input, and of the results
    of its named steps (path texts as :func:`parse_path` reads them)."""

    input: list[str] = field(default_factory=list)
    results: dict[str, list[str]] = field(default_factory=dict)

    @classmethod
    def from_mapping(cls, document: object, where: str) -> SecretDeclaration:
        """The declaration a document holds (``input: [paths]``, ``results: {step:
        [paths]}``, both optional); ``InputError`` naming ``where`` and the entry at
        fault otherwise."""
        if document is None:
            return cls()
        if not isinstance(document, Mapping):
            raise InputError(f"{where} must hold input: [paths] and results: {{step: [paths]}}")
        unknown = sorted(str(k) for k in document if k not in ("input", "results"))
        if unknown:
            raise InputError(f"{where}: unknown entries {', '.join(unknown)} (input, results)")
        paths = _path_texts(document.get("input"), f"{where}: input")
        results = document.get("results")
        if results is None:
            results = {}
        if not isinstance(results, Mapping):
            raise InputError(f"{where}: results must map step names to lists of paths")
        return cls(
            paths,
            {
                str(step): _path_texts(given, f"{where}: results: {step}")
                for step, given in results.items()
            },
        )

    def with_results(self, texts: Iterable[str]) -> SecretDeclaration:
        """This declaration and the ``STEP:PATH`` texts (:func:`step_path`) besides."""
        results = {step: list(paths) for step, paths in self.results.items()}
        for text in texts:
            step, path = step_path(text)
            if path not in results.setdefault(step, []):
                results[step].append(path)
        return SecretDeclaration(list(self.input), results)


def _path_texts(given: object, where: str) -> list[str]:
    """``given`` as a list of path texts, each checked; ``InputError`` otherwise."""
    if given is None:
        return []
    if isinstance(given, str) or not isinstance(given, list):
        raise InputError(f"{where} must be a list of paths ('$.password')")
    texts: list[str] = []
    for text in given:
        if not isinstance(text, str):
            raise InputError(f"{where}: {text!r} is not a path ('$.password')")
        parse_path(text)
        texts.append(text)
    return texts


def declared_results(given: object, steps: Iterable[str]) -> dict[str, JSON]:
    """The start context's ``secret_results`` for ``given`` (step name -> path
    texts), each path checked; ``InputError`` for a malformed declaration or a
    step the definition does not have (among ``steps``)."""
    declaration = SecretDeclaration.from_mapping({"results": given}, "secret results")
    known = set(steps)
    missing = sorted(step for step in declaration.results if step not in known)
    if missing:
        raise InputError(
            f"secret results name states the definition does not have: {', '.join(missing)}"
        )
    return {step: list(paths) for step, paths in declaration.results.items() if paths}
