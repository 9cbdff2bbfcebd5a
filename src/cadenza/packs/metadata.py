"""Reading a StackStorm pack directory: ``pack.yaml``, action metadata, config.

A pack is a directory::

    mypack/
      pack.yaml                 # ref (or name), version, description
      config.schema.yaml        # optional: the pack config's keys, defaults, secrets
      actions/
        greet.yaml              # metadata: runner_type, entry_point, parameters, ...
        greet.py                # python-script entry point
        deploy.yaml             # runner_type: orquesta
        workflows/deploy.yaml   # its entry point, relative to actions/

Each ``actions/*.yaml`` becomes an :class:`~cadenza.interpreters.orquesta.actions.ActionSpec`
named ``<pack>.<name>``. The runner's own parameters (``cmd``, ``env``, ``timeout`` ...)
are merged in, as StackStorm merges runner and action parameters: an action may
override a runner parameter's default or make it immutable.

Nothing here runs anything; :mod:`cadenza.packs.runners` turns the specs into activities.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml

from cadenza.interpreters.orquesta.actions import WORKFLOW_RUNNERS, ActionParameter, ActionSpec
from cadenza.model.errors import InputError

#: Runner types whose actions Cadenza runs, and the parameters each runner adds.
RUNNER_PARAMETERS: Mapping[str, tuple[ActionParameter, ...]] = {
    "orquesta": (),
    "python-script": (
        ActionParameter("env", type="object", description="environment variables"),
        ActionParameter("timeout", type="integer", has_default=True, default=600),
    ),
    "local-shell-cmd": (
        ActionParameter("cmd", type="string", description="the command to run"),
        ActionParameter("cwd", type="string"),
        ActionParameter("env", type="object"),
        ActionParameter("timeout", type="integer", has_default=True, default=60),
    ),
    "local-shell-script": (
        ActionParameter("cwd", type="string"),
        ActionParameter("env", type="object"),
        ActionParameter("timeout", type="integer", has_default=True, default=60),
    ),
}

#: Runner types whose entry point file Cadenza needs (others may name one or not).
_NEEDS_ENTRY_POINT = frozenset({"orquesta", "python-script", "local-shell-script"})


@dataclass(frozen=True)
class PackAction:
    """One action of a pack: its spec, and where its code or workflow lives."""

    spec: ActionSpec
    #: The entry point file (a script, a Python module, a workflow), if any.
    entry_point: Path | None
    #: Whether Cadenza can run this runner type (others load, and fail when run).
    supported: bool = True
    #: The parameters the action's own metadata declares (the others are its runner's).
    declared: frozenset[str] = frozenset()
    #: Where its result holds the values its ``output_schema`` marks ``secret: true``
    #: (paths such as ``$.result.token``, see ``cadenza.model.secrets.mark_secrets``).
    secret_output: tuple[str, ...] = ()

    @property
    def ref(self) -> str:
        """``<pack>.<name>``."""
        return self.spec.ref


@dataclass(frozen=True)
class PackConfig:
    """The pack's config: the file's values over the schema's defaults."""

    values: Mapping[str, Any]
    #: Keys the schema requires that neither the file nor a default provides.
    missing: tuple[str, ...] = ()
    #: Keys the schema marks ``secret``.
    secrets: tuple[str, ...] = ()
    source: Path | None = None


@dataclass(frozen=True)
class PackMetadata:
    """A pack directory as read: its ref, actions and config."""

    ref: str
    path: Path
    version: str = ""
    description: str = ""
    actions: tuple[PackAction, ...] = ()
    config: PackConfig = field(default_factory=lambda: PackConfig({}))


def read_pack(
    path: str | Path,
    *,
    config_file: str | Path | None = None,
    configs_dir: str | Path | None = None,
) -> PackMetadata:
    """Read the pack at ``path``.

    The config is read from ``config_file`` if given, else from ``<pack ref>.yaml`` in
    ``configs_dir`` (StackStorm keeps pack configs in one such folder), else from
    ``config.yaml`` in the pack directory, if there is one; ``config.schema.yaml``
    supplies defaults. Raises ``InputError`` naming the file and key at fault.
    """
    root = Path(path)
    if not root.is_dir():
        raise InputError(f"pack directory {root} does not exist", path=str(root))
    manifest_path = root / "pack.yaml"
    manifest = _read_yaml(manifest_path) if manifest_path.exists() else {}
    if not isinstance(manifest, Mapping):
        raise InputError(f"{manifest_path}: a pack manifest must be a mapping")
    ref = str(manifest.get("ref") or manifest.get("name") or root.name)
    if not ref.replace("_", "").replace("-", "").isalnum():
        raise InputError(
            f"{manifest_path}: the pack ref {ref!r} must use letters, digits, '_' and '-'",
            path=str(manifest_path),
        )
    actions_dir = root / "actions"
    actions = tuple(
        _read_action(ref, actions_dir, file)
        for file in sorted(actions_dir.glob("*.yaml")) + sorted(actions_dir.glob("*.yml"))
    )
    seen: dict[str, Path] = {}
    for action in actions:
        origin = Path(action.spec.origin or "")
        if action.ref in seen:
            raise InputError(
                f"{origin}: action {action.ref!r} is also defined in {seen[action.ref]}",
                path=str(origin),
            )
        seen[action.ref] = origin
    config = _read_config(root, _config_path(ref, config_file, configs_dir))
    # Parameter defaults may read the config (``{{ config_context.key }}``).
    actions = tuple(replace(a, spec=replace(a.spec, config=dict(config.values))) for a in actions)
    return PackMetadata(
        ref=ref,
        path=root,
        version=str(manifest.get("version") or ""),
        description=str(manifest.get("description") or ""),
        actions=actions,
        config=config,
    )


def _read_action(pack: str, actions_dir: Path, file: Path) -> PackAction:
    raw = _read_yaml(file)
    if not isinstance(raw, Mapping):
        raise InputError(f"{file}: action metadata must be a mapping", path=str(file))
    name = raw.get("name")
    if not isinstance(name, str) or not name:
        raise InputError(f"{file}: the action has no name", path=str(file))
    runner = raw.get("runner_type")
    if not isinstance(runner, str) or not runner:
        raise InputError(f"{file}: action {name!r} has no runner_type", path=str(file))
    entry = raw.get("entry_point")
    entry_point: Path | None = None
    if runner in _NEEDS_ENTRY_POINT:
        if not isinstance(entry, str) or not entry:
            raise InputError(
                f"{file}: action {name!r} (runner {runner}) needs an entry_point",
                path=str(file),
            )
        entry_point = actions_dir / entry
        if not entry_point.is_file():
            raise InputError(
                f"{file}: the entry_point {entry!r} of action {name!r} is not a file "
                f"(looked for {entry_point})",
                path=str(file),
            )
    params = raw.get("parameters") or {}
    if not isinstance(params, Mapping):
        raise InputError(f"{file}: parameters must be a mapping of name to attributes")
    declared = tuple(_parameter(file, str(key), value) for key, value in params.items())
    parameters = _merge_runner(RUNNER_PARAMETERS.get(runner, ()), declared)
    ref = f"{pack}.{name}"
    output_schema = raw.get("output_schema")
    spec = ActionSpec(
        ref=ref,
        runner_type=runner,
        parameters=parameters,
        workflow=ref if runner in WORKFLOW_RUNNERS else None,
        output_schema=dict(output_schema) if isinstance(output_schema, Mapping) else None,
        description=str(raw.get("description") or ""),
        origin=str(file),
    )
    return PackAction(
        spec,
        entry_point,
        supported=runner in RUNNER_PARAMETERS,
        declared=frozenset(p.name for p in declared),
        secret_output=_secret_output(runner, output_schema),
    )


#: Where each runner's result keeps what the action produced, as StackStorm
#: applies ``output_schema`` to it (other runners: the whole result).
_OUTPUT_KEYS = {
    "python-script": "result",
    "local-shell-cmd": "stdout",
    "local-shell-script": "stdout",
}


def _secret_output(runner: str, schema: Any) -> tuple[str, ...]:
    """The result paths of the properties ``schema`` marks ``secret: true``: in a
    JSON schema's ``properties``, or in the older flat form (name -> attributes)."""
    if not isinstance(schema, Mapping):
        return ()
    properties = schema.get("properties") if "properties" in schema else schema
    if not isinstance(properties, Mapping):
        return ()
    base = f"$.{_OUTPUT_KEYS[runner]}" if runner in _OUTPUT_KEYS else "$"
    return tuple(
        f"{base}[{json.dumps(str(name))}]"
        for name, attrs in properties.items()
        if isinstance(attrs, Mapping) and attrs.get("secret") is True
    )


def _parameter(file: Path, name: str, raw: Any) -> ActionParameter:
    if not isinstance(raw, Mapping):
        raise InputError(f"{file}: parameters.{name} must be a mapping of attributes")
    kind = raw.get("type")
    position = raw.get("position")
    return ActionParameter(
        name=name,
        type=str(kind) if isinstance(kind, str) else None,
        has_default="default" in raw,
        default=raw.get("default"),
        required=bool(raw.get("required", False)),
        secret=bool(raw.get("secret", False)),
        immutable=bool(raw.get("immutable", False)),
        position=position if isinstance(position, int) and not isinstance(position, bool) else None,
        description=str(raw.get("description") or ""),
    )


def _merge_runner(
    runner: tuple[ActionParameter, ...], action: tuple[ActionParameter, ...]
) -> tuple[ActionParameter, ...]:
    """Runner parameters, each overridden by the action's attributes of the same name
    (an action typically gives ``cmd`` a default and makes it immutable)."""
    mine = {p.name: p for p in action}
    merged: list[ActionParameter] = []
    for base in runner:
        override = mine.pop(base.name, None)
        if override is None:
            merged.append(base)
        else:
            merged.append(replace(override, type=override.type or base.type))
    merged.extend(p for p in action if p.name in mine)
    return tuple(merged)


def _config_path(
    ref: str, config_file: str | Path | None, configs_dir: str | Path | None
) -> Path | None:
    if config_file is not None:
        return Path(config_file)
    if configs_dir is not None:
        found = Path(configs_dir) / f"{ref}.yaml"
        return found if found.is_file() else None
    return None


def _read_config(root: Path, config_file: Path | None) -> PackConfig:
    schema_path = root / "config.schema.yaml"
    schema = _read_yaml(schema_path) if schema_path.exists() else {}
    if not isinstance(schema, Mapping):
        raise InputError(f"{schema_path}: a config schema must be a mapping")
    source = Path(config_file) if config_file is not None else root / "config.yaml"
    if config_file is not None and not source.is_file():
        raise InputError(f"pack config {source} does not exist", path=str(source))
    given = _read_yaml(source) if source.is_file() else {}
    if not isinstance(given, Mapping):
        raise InputError(f"{source}: a pack config must be a mapping")
    values = dict(given)
    missing: list[str] = []
    secrets: list[str] = []
    for key, attrs in schema.items():
        if not isinstance(attrs, Mapping):
            continue
        if attrs.get("secret"):
            secrets.append(str(key))
        if key not in values:
            if "default" in attrs:
                values[str(key)] = attrs["default"]
            elif attrs.get("required"):
                missing.append(str(key))
    return PackConfig(
        values=values,
        missing=tuple(missing),
        secrets=tuple(secrets),
        source=source if source.is_file() else None,
    )


def _read_yaml(file: Path) -> Any:
    try:
        return yaml.safe_load(file.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InputError(f"cannot read {file}: {exc.strerror or exc}", path=str(file)) from exc
    except yaml.YAMLError as exc:
        raise InputError(f"{file} is not valid YAML: {exc}", path=str(file)) from exc
