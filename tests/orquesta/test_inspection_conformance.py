"""Definition inspection against the Orquesta conformance cases.

Every case is a test (its id is the case name):

* an invalid case (``valid: false`` in the 1.6.0 facts) must be refused before anything
  runs, with at least one problem for each ``(category, spec_path)`` that orquesta's
  inspection listed; where orquesta's own message is a fixed text (semantics, context),
  ours must say the same thing; a ``load_error`` case only needs a clear refusal;
* a valid case must load and inspect clean, with its parent ``context`` keys as
  assigned names.

The cases live outside the repository; ``CADENZA_ORQUESTA_CASES`` names their directory
(default: ``../shared/conformance/orquesta/cases`` beside the repository root).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from cadenza.interpreters.orquesta.validation import load_definition
from cadenza.model.errors import DefinitionError

_REPO_ROOT = Path(__file__).resolve().parents[2]
CASES_DIR = Path(
    os.environ.get(
        "CADENZA_ORQUESTA_CASES",
        str(_REPO_ROOT.parent / "shared" / "conformance" / "orquesta" / "cases"),
    )
)

if not CASES_DIR.is_dir():
    pytest.skip(
        f"Orquesta conformance cases not found at {CASES_DIR}; "
        "set CADENZA_ORQUESTA_CASES to their directory",
        allow_module_level=True,
    )

#: The case files' category names (orquesta's) -> ours. They happen to be the same words;
#: the map is where to change it if either side renames one.
CATEGORIES = {
    "syntax": "syntax",
    "semantics": "semantics",
    "expressions": "expressions",
    "context": "context",
}

#: Categories whose orquesta messages are fixed texts that ours must start with; syntax
#: and expression messages come from jsonschema and the parsers and only inform.
FIXED_MESSAGE_CATEGORIES = {"semantics", "context"}


def _load_cases() -> list[dict[str, Any]]:
    cases = []
    for path in sorted(CASES_DIR.glob("*.json")):
        with path.open(encoding="utf-8") as handle:
            cases.append(json.load(handle))
    return cases


def _target_facts(case: dict[str, Any]) -> dict[str, Any]:
    """The facts Cadenza must match: 1.2.0's, overridden by 1.6.0's where they differ."""
    facts = dict(case["expected"])
    facts.update(case.get("other_versions", {}).get("1.6.0", {}))
    return facts


CASES = _load_cases()


@pytest.mark.parametrize("case", CASES, ids=[case["name"] for case in CASES])
def test_inspection(case: dict[str, Any]) -> None:
    facts = _target_facts(case)
    context_names = list((case.get("context") or {}).keys())
    if facts.get("valid") is False:
        _assert_refused(case, facts, context_names)
    else:
        load_definition(case["workflow"], origin=case["name"], context_names=context_names)


def _assert_refused(case: dict[str, Any], facts: dict[str, Any], context_names: list[str]) -> None:
    with pytest.raises(DefinitionError) as caught:
        load_definition(case["workflow"], origin=case["name"], context_names=context_names)
    problems = caught.value.problems
    assert problems, "a refusal must list at least one problem"
    assert all(p.message for p in problems)
    if "load_error" in facts:
        return

    for category, entries in facts["inspection"].items():
        ours = CATEGORIES[category]
        for entry in entries:
            at_path = [
                p for p in problems if p.category == ours and p.spec_path == entry["spec_path"]
            ]
            assert at_path, (
                f"no {ours} problem at {entry['spec_path']!r} (orquesta: {entry['message']!r});"
                f" got:\n{caught.value}"
            )
            if category in FIXED_MESSAGE_CATEGORIES:
                assert any(p.message.startswith(entry["message"]) for p in at_path), (
                    f"expected {entry['message']!r} at {entry['spec_path']!r}; got:\n{caught.value}"
                )
            assert all(p.line is not None for p in at_path), "every located problem has a line"
