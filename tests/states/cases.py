"""Loading the shared ASL conformance cases and the reference comparator.

The cases live in the directory named by ``CADENZA_ASL_CASES`` (default: the
``shared/conformance/asl/cases`` folder beside the repository). The comparator
is the shared ``compare.py`` in the folder above the cases, imported as is.
"""

from __future__ import annotations

import functools
import importlib.util
import json
import os
from pathlib import Path
from types import ModuleType
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_CASES = REPO_ROOT.parent / "shared" / "conformance" / "asl" / "cases"


def cases_dir() -> Path:
    """Where the cases are."""
    return Path(os.environ.get("CADENZA_ASL_CASES") or DEFAULT_CASES)


def load_cases(kind: str = "execution") -> list[dict[str, Any]]:
    """Every case of ``kind``, sorted by name."""
    out = []
    for path in sorted(cases_dir().glob("*.json")):
        case = json.loads(path.read_text(encoding="utf-8"))
        if case.get("kind") == kind:
            out.append(case)
    return out


@functools.cache
def comparator() -> ModuleType:
    """The shared reference comparator (``compare.py`` next to the cases folder)."""
    path = cases_dir().parent / "compare.py"
    spec = importlib.util.spec_from_file_location("asl_compare", path)
    assert spec is not None and spec.loader is not None, f"no comparator at {path}"
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# --- known gaps: properties of a case that the interpreter cannot reproduce -------------


def _walk(value: Any) -> Any:
    yield value
    if isinstance(value, dict):
        for v in value.values():
            yield from _walk(v)
    elif isinstance(value, list):
        for v in value:
            yield from _walk(v)


def _expected(case: dict[str, Any]) -> list[dict[str, Any]]:
    return [e["expected"] for e in case.get("executions", [])]


def _random_replaced(case: dict[str, Any]) -> bool:
    text = json.dumps(case.get("definition"))
    return "States.MathRandom" in text and "RandomNumberGenerated" in json.dumps(_expected(case))


def _input_redacted(case: dict[str, Any]) -> bool:
    for execution in case.get("executions", []):
        for event in execution["expected"].get("events", [])[:1]:
            details = event.get("executionStartedEventDetails", {})
            compare = comparator()
            actual = compare.redact(execution.get("input"))
            if "input" in details and compare.match(details["input"], actual):
                return True
    return False


def _request_id_kept(case: dict[str, Any]) -> bool:
    return any(
        isinstance(v, dict) and isinstance(v.get("x-amzn-RequestId"), list)
        for v in _walk(_expected(case))
    )


def _other_account(case: dict[str, Any]) -> bool:
    return any(":111111111111:" not in arn for arn in case.get("resources", {}))


def _context_without_redrive_count(case: dict[str, Any]) -> bool:
    return any(
        isinstance(v, dict)
        and {"Id", "Input", "StartTime", "Name"} <= set(v)
        and "RedriveCount" not in v
        for v in _walk(_expected(case))
    )


def _sorted_retried_parallel(case: dict[str, Any]) -> bool:
    if not case.get("hints", {}).get("parallel_events_sorted"):
        return False
    return any(
        isinstance(v, dict) and v.get("Type") == "Parallel" and v.get("Retry")
        for v in _walk(case.get("definition"))
    )


#: (property, reason, levels it breaks) — checked in order, the first match wins.
KNOWN_GAPS = [
    (
        _random_replaced,
        "the test replaced States.MathRandom's number by a fixed word in the recorded output",
        {"outcome", "events"},
    ),
    (
        _other_account,
        "the recorded functions live in another account (cross-account Credentials)",
        {"outcome", "events"},
    ),
    (
        _request_id_kept,
        "this recording keeps the Invoke response's request-id header as a list, where the "
        "other recordings redact it to the header name",
        {"outcome", "events"},
    ),
    (
        _input_redacted,
        "the recorder redacted values of the execution input inside the recorded history",
        {"events"},
    ),
    (
        _context_without_redrive_count,
        "recorded before AWS added Execution.RedriveCount to the context object",
        {"events"},
    ),
    (
        _sorted_retried_parallel,
        "the recorder sorted a retried Parallel's events and replaced their ids, in a stretch "
        "the comparator does not treat as concurrent",
        {"events"},
    ),
]


def known_gap(case: dict[str, Any], level: str) -> str | None:
    """Why the case cannot pass at ``level``, or None."""
    for prop, reason, levels in KNOWN_GAPS:
        if prop(case):
            return reason if level in levels else None
    return None
