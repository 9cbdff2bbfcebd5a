"""What ``--pack DIR`` and ``--pack-configs DIR`` do for a ``cadenza`` command."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from cadenza.workers.registry import ActivityRegistry

if TYPE_CHECKING:
    from cadenza.engine.engine import Engine
    from cadenza.packs.pack import Pack


def load_packs(
    args: argparse.Namespace, front_ends: Mapping[str, object], registry: ActivityRegistry
) -> list[Pack]:
    """Load the packs named by ``args.pack`` into ``front_ends`` and ``registry``
    (nothing when the command has no such option); warn about actions whose runner
    Cadenza does not provide."""
    packs: list[Pack] = []
    for directory in getattr(args, "pack", None) or []:
        # Packs bring Jinja and the shell runners: imported only when a pack is given.
        from cadenza.packs.pack import load_pack

        pack = load_pack(directory, configs_dir=getattr(args, "pack_configs", None))
        pack.add_to(front_ends, registry)
        for action in pack.unsupported:
            print(
                f"cadenza: warning: {action.ref} uses runner {action.spec.runner_type!r}, "
                "which Cadenza does not run; a task calling it will fail",
                file=sys.stderr,
            )
        packs.append(pack)
    return packs


def register_pack_workflows(engine: Engine, packs: Sequence[Pack]) -> None:
    """Register the workflows of ``packs`` in ``engine``'s store, so that tasks
    calling them can start them as child executions."""
    for pack in packs:
        pack.register_workflows(engine)
