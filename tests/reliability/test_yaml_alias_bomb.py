"""A YAML alias bomb ("billion laughs") is refused by validation, quickly.

Nine levels of nine aliases each are 387 million strings once expanded, in a
document of a dozen lines. Loading it is quick (aliases are shared
references); walking what was loaded is what never ends, so validation must
count the expansion before it walks. Each case runs in a subprocess with a
time limit, because a front end that walks the expansion never returns.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from cadenza.model.yaml_documents import (
    MAX_EXPANDED_NODES,
    AliasExpansionError,
    safe_load_bounded,
)

LEVELS = 9


def _bomb(indent: str) -> str:
    lines = [f"{indent}l0: &l0 [{', '.join(['lol'] * LEVELS)}]"]
    for level in range(1, LEVELS):
        aliases = ", ".join([f"*l{level - 1}"] * LEVELS)
        lines.append(f"{indent}l{level}: &l{level} [{aliases}]")
    return "\n".join(lines) + "\n"


DEFINITIONS = {
    "orquesta": "version: 1.0\nvars:\n  - laughs:\n" + _bomb("      ") + "tasks:\n"
    "  t1:\n    action: core.noop\n",
    "saga": "saga: s\nversion: '1'\nstages:\n  - action: a\n    do: core.noop\n    input:\n"
    + _bomb("      "),
    "triggers": "workspace: w\ntriggers:\n  - id: t\n    activation: [{subject: s, type: t}]\n"
    "    condition: JOIN\n    action: TERMINATE\n    context:\n" + _bomb("      "),
}

CHECK = """
import sys
from cadenza.engine.engine import Engine
from cadenza.model.errors import DefinitionError
try:
    Engine("sqlite:///:memory:").compile(sys.stdin.read(), kind=sys.argv[1])
except DefinitionError as exc:
    print("refused:", exc.message)
else:
    print("accepted")
"""


@pytest.mark.slow
@pytest.mark.parametrize("kind", sorted(DEFINITIONS))
def test_an_alias_bomb_is_refused_quickly(kind: str) -> None:
    done = subprocess.run(
        [sys.executable, "-c", CHECK, kind],
        input=DEFINITIONS[kind],
        capture_output=True,
        text=True,
        timeout=15,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("refused:"), done.stdout
    assert "aliases" in done.stdout


def _aliased(copies: int) -> str:
    """A list of 1,000 items written once and repeated ``copies`` times by alias."""
    return "a: &a [" + ", ".join(["x"] * 1000) + "]\nb: [" + ", ".join(["*a"] * copies) + "]\n"


def test_a_long_document_written_out_is_not_mistaken_for_a_bomb() -> None:
    # Far more nodes than the limit, none of them added by an alias.
    tasks = "".join(
        f"  t{i}:\n    action: core.noop\n    next: [{{do: t{i + 1}}}]\n" for i in range(20_000)
    )
    assert len(safe_load_bounded("tasks:\n" + tasks)["tasks"]) == 20_000
    # What aliases add is what counts: 99 copies of 1,001 nodes stay under 100,000.
    assert len(safe_load_bounded(_aliased(99))["b"]) == 99
    with pytest.raises(AliasExpansionError):
        safe_load_bounded(_aliased(101), limit=MAX_EXPANDED_NODES)
