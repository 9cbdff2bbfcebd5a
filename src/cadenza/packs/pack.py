"""A loaded StackStorm pack, and putting it to work in a front end, registry and engine.

``load_pack(DIR)`` reads the directory (:mod:`.metadata`); then

* :meth:`Pack.add_to` tells the Orquesta front end the pack's action metadata (so
  workflows calling ``pack.action`` are checked against it, and get its defaults) and
  registers an activity per runnable action (:mod:`.runners`) in a registry;
* :meth:`Pack.register_workflows` registers each ``runner_type: orquesta`` action's
  workflow as a definition named ``pack.action``, which a task calling that action
  runs as a child execution.

Both are idempotent: a worker and a ``cadenza run`` loading the same pack agree.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from cadenza.interpreters.orquesta.actions import ActionSpec
from cadenza.interpreters.orquesta.frontend import OrquestaFrontEnd
from cadenza.model.errors import InputError
from cadenza.packs.metadata import PackAction, PackMetadata, read_pack
from cadenza.packs.runners import activity_for
from cadenza.workers.registry import ActivityRegistry

if TYPE_CHECKING:
    from cadenza.engine.engine import Engine
    from cadenza.store.records import DefinitionRecord

#: The front end that runs pack workflows.
WORKFLOW_KIND = "orquesta"


@dataclass(frozen=True)
class Pack:
    """A StackStorm pack read from a directory."""

    metadata: PackMetadata

    @property
    def ref(self) -> str:
        """The pack's name, the first part of its actions' refs."""
        return self.metadata.ref

    @property
    def specs(self) -> list[ActionSpec]:
        """The metadata of every action, as the Orquesta front end takes it."""
        return [action.spec for action in self.metadata.actions]

    @property
    def workflows(self) -> list[PackAction]:
        """The actions that are workflows (run as child executions)."""
        return [a for a in self.metadata.actions if a.spec.runs_child]

    @property
    def unsupported(self) -> list[PackAction]:
        """Actions whose runner Cadenza does not provide (they fail when run)."""
        return [a for a in self.metadata.actions if not a.supported]

    def add_to(
        self, front_ends: Mapping[str, object] | OrquestaFrontEnd, registry: ActivityRegistry
    ) -> None:
        """Give the Orquesta front end the pack's action metadata, register an activity
        per runnable action, and check the pack's workflows (``DefinitionError``
        naming the file, with every problem)."""
        front_end = _orquesta(front_ends)
        front_end.add_actions(*self.specs)
        for action in self.metadata.actions:
            if not action.spec.runs_child:
                activity = activity_for(self.ref, action, self.metadata.config)
                registry.register(action.ref, activity, replace=True)
        for action in self.workflows:
            front_end.compile(self._workflow_source(action), origin=str(action.entry_point))

    def register_workflows(self, engine: Engine) -> list[DefinitionRecord]:
        """Register each workflow action's workflow under its action ref; call after
        :meth:`add_to` on the engine's front ends."""
        return [
            engine.register(
                self._workflow_source(action),
                kind=WORKFLOW_KIND,
                name=action.ref,
                origin=str(action.entry_point),
            )
            for action in self.workflows
        ]

    def _workflow_source(self, action: PackAction) -> str:
        path = action.entry_point
        assert path is not None  # an orquesta action without one is refused when read
        try:
            return path.read_text(encoding="utf-8")
        except OSError as exc:
            raise InputError(f"cannot read {path}: {exc.strerror or exc}") from exc


def load_pack(
    path: str | Path,
    *,
    config_file: str | Path | None = None,
    configs_dir: str | Path | None = None,
) -> Pack:
    """Read the pack directory at ``path`` (see :func:`.metadata.read_pack`)."""
    return Pack(read_pack(path, config_file=config_file, configs_dir=configs_dir))


def _orquesta(front_ends: Mapping[str, object] | OrquestaFrontEnd) -> OrquestaFrontEnd:
    found = front_ends if isinstance(front_ends, OrquestaFrontEnd) else front_ends[WORKFLOW_KIND]
    if not isinstance(found, OrquestaFrontEnd):
        raise InputError(
            f"packs need Cadenza's Orquesta front end; the {WORKFLOW_KIND!r} front end "
            f"installed here is {type(found).__name__}"
        )
    return found


__all__ = ["Pack", "load_pack"]
