"""StackStorm packs: action metadata, Python and shell actions, and workflows.

Load a pack directory and put it to work::

    from cadenza.packs import load_pack

    pack = load_pack("examples/stackstorm/cadenza_demo")
    pack.add_to(engine.front_ends, engine.registry)   # metadata + activities
    pack.register_workflows(engine)                   # orquesta actions

or from the command line: ``cadenza run --pack DIR workflow.yaml``.

Modules: ``metadata`` reads ``pack.yaml``, ``actions/*.yaml`` and the config;
``runners`` turns actions into activities by runner type; ``python_process`` runs one
Python action in a process of its own; ``stackstorm_action`` is the ``Action`` base
class Python actions subclass; ``pack`` ties them together;
``command_line`` is what the ``--pack`` options do; ``workflow_calls`` checks the pack
workflows a definition calls (``cadenza validate``).

This package does I/O (reads files, imports a pack's code); the Orquesta interpreter
only ever sees the metadata, as plain data.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cadenza.packs.pack import Pack, load_pack

__all__ = ["Pack", "load_pack"]


def __getattr__(name: str) -> Any:
    # Imported on first use: a Python action's own process imports
    # ``cadenza.packs.python_process`` and must not pay for the Orquesta front end.
    if name in __all__:
        from cadenza.packs import pack

        return getattr(pack, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
