"""Loading the code, saga and triggers front ends loads none of their
interpreters: every process that detects a definition's kind makes every
installed front end, and most never compile a definition of these kinds."""

from __future__ import annotations

import json
import subprocess
import sys

# Makes each front end as its entry point does and asks it about an Orquesta
# workflow, then prints the names of every loaded module.
_PROBE = """
import json, sys
from cadenza.interpreters.code import frontend as code
from cadenza.interpreters.protocol import FrontEndSettings, Recognition
from cadenza.interpreters.saga import frontend as saga
from cadenza.interpreters.triggers import frontend as triggers
source = "version: 1.0\\ntasks:\\n  only:\\n    action: core.noop\\n"
for module in (code, saga, triggers):
    assert module.create(FrontEndSettings()).recognize(source) is Recognition.NO
print(json.dumps(sorted(sys.modules)))
"""

_HEAVY = (
    "cadenza.interpreters.code.interpreter",
    "cadenza.interpreters.code.runtime",
    "cadenza.interpreters.code.workflow",
    "cadenza.interpreters.code.futures",
    "cadenza.interpreters.saga.builder",
    "cadenza.interpreters.saga.graph",
    "cadenza.interpreters.saga.interpreter",
    "cadenza.interpreters.triggers.context",
    "cadenza.interpreters.triggers.interpreter",
    "cadenza.interpreters.triggers.model",
)


def test_front_ends_load_no_interpreter() -> None:
    done = subprocess.run(
        [sys.executable, "-c", _PROBE], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    loaded = set(json.loads(done.stdout))
    assert "cadenza.interpreters.triggers.frontend" in loaded  # the probe saw the imports
    assert sorted(loaded.intersection(_HEAVY)) == []
