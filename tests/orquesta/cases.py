"""Orquesta conformance cases: finding them, their target facts, and comparing facts.

Cases live in the directory named by ``CADENZA_ORQUESTA_CASES``, by default the shared
suite next to the repository (``<repo>/../shared/conformance/orquesta/cases``). The
comparison functions take fact dicts and return mismatch strings, so that any driver
(the fifo driver here, the engine end to end) can reuse them.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from pathlib import Path
from typing import Any

Case = dict[str, Any]
Facts = dict[str, Any]

_EXACT_MESSAGE_KINDS = frozenset(
    {
        "ExecutionFailed",
        "UnreachableJoinError",
        "VariableUndefinedError",
        "VariableInaccessibleError",
    }
)
_EXPRESSION_KINDS = frozenset({"YaqlEvaluationException", "JinjaEvaluationException"})
EXECUTION_FAILED = "Execution failed. See result for details."


def cases_dir() -> Path:
    """Where the cases are (the directory may not exist)."""
    configured = os.environ.get("CADENZA_ORQUESTA_CASES")
    if configured:
        return Path(configured)
    repo = Path(__file__).resolve().parents[2]
    return repo.parent / "shared" / "conformance" / "orquesta" / "cases"


def load_cases(directory: Path | None = None) -> list[Case]:
    """Every case file of the directory, sorted by name."""
    directory = directory or cases_dir()
    cases = [json.loads(p.read_text()) for p in sorted(directory.glob("*.json"))]
    return sorted(cases, key=lambda c: str(c["name"]))


def target_facts(case: Case) -> Facts:
    """The facts Cadenza targets: ``expected`` with the 1.6.0 differences applied."""
    target = dict(case["expected"])
    target.update(case.get("other_versions", {}).get("1.6.0", {}))
    return target


def error_kind(message: str) -> str:
    """The exception class an error message starts with."""
    if message == EXECUTION_FAILED:
        return "ExecutionFailed"
    return message.split(":", 1)[0].strip()


def with_kinds(errors: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Error entries with their ``kind``, sorted as the facts are."""
    out = [{**e, "kind": e.get("kind") or error_kind(str(e.get("message", "")))} for e in errors]
    return sorted(
        out,
        key=lambda e: (
            str(e.get("task_id", "")),
            int(e.get("route", -1)),
            str(e.get("task_transition_id", "")),
            str(e.get("message", "")),
        ),
    )


def _message_matches(expected: dict[str, Any], actual: dict[str, Any]) -> bool:
    kind = expected["kind"]
    want, got = str(expected.get("message", "")), str(actual.get("message", ""))
    if kind in _EXACT_MESSAGE_KINDS:
        return want == got
    if kind in _EXPRESSION_KINDS:
        marker = f"{kind}: Unable to evaluate expression '"
        if want.startswith(marker):
            head = want[: want.index("'. ", len(marker)) + 1] if "'. " in want else want
            return got.startswith(head)
        return want == got
    return bool(got)


def _error_key(e: dict[str, Any]) -> str:
    return json.dumps(
        [e["kind"], e.get("task_id"), e.get("route"), e.get("task_transition_id"), e.get("result")],
        sort_keys=True,
    )


def compare_errors(expected: list[dict[str, Any]], actual: list[dict[str, Any]]) -> list[str]:
    """Errors as multisets of (kind, task_id, route, transition, result), messages per kind."""
    remaining = with_kinds(actual)
    problems = []
    for want in with_kinds(expected):
        match = next(
            (
                got
                for got in remaining
                if _error_key(got) == _error_key(want) and _message_matches(want, got)
            ),
            None,
        )
        if match is None:
            problems.append(f"errors: missing {json.dumps(want, sort_keys=True)}")
        else:
            remaining.remove(match)
    problems += [f"errors: unexpected {json.dumps(e, sort_keys=True)}" for e in remaining]
    return problems


def _request_sort_key(r: dict[str, Any]) -> tuple[str, int, int]:
    return (str(r.get("task_id")), int(r.get("route") or 0), int(r.get("item_id") or 0))


def _request_matches(want: dict[str, Any], got: dict[str, Any]) -> bool:
    if want.get("input") == {"$unstable": True}:
        want = {k: v for k, v in want.items() if k != "input"}
        got = {k: v for k, v in got.items() if k != "input"}
    return want == got


def _compare_request_lists(
    label: str, expected: list[dict[str, Any]], actual: list[dict[str, Any]]
) -> list[str]:
    remaining = list(actual)
    problems = []
    for want in sorted(expected, key=_request_sort_key):
        match = next((got for got in remaining if _request_matches(want, got)), None)
        if match is None:
            problems.append(f"{label}: missing {json.dumps(want, sort_keys=True)}")
        else:
            remaining.remove(match)
    problems += [f"{label}: unexpected {json.dumps(r, sort_keys=True)}" for r in remaining]
    return problems


def compare_requests(expected: list[list[Any]], actual: list[list[Any]]) -> list[str]:
    """Batch by batch; within a batch, as sorted lists."""
    problems = []
    for index in range(max(len(expected), len(actual))):
        want = expected[index] if index < len(expected) else []
        got = actual[index] if index < len(actual) else []
        problems += _compare_request_lists(f"requests[{index}]", want, got)
    return problems


def compare_operations(expected: list[dict[str, Any]], actual: list[dict[str, Any]]) -> list[str]:
    def shape(op: dict[str, Any]) -> tuple[Any, ...]:
        error = op.get("error")
        return (op.get("op"), op.get("status_after"), error.get("kind") if error else None)

    want, got = [shape(o) for o in expected], [shape(o) for o in actual]
    return [] if want == got else [f"operations: expected {want}, got {got}"]


def _compare_common(target: Facts, actual: Facts) -> list[str]:
    problems = []
    for key in ("valid", "status", "output", "tasks"):
        if key in target and target[key] != actual.get(key):
            problems.append(
                f"{key}: expected {json.dumps(target[key], sort_keys=True)}, "
                f"got {json.dumps(actual.get(key), sort_keys=True)}"
            )
    if "errors" in target:
        problems += compare_errors(target["errors"], actual.get("errors") or [])
    if "crash" in target and (actual.get("status") != "failed" or not actual.get("errors")):
        problems.append("crash: expected a failed workflow with an error entry")
    return problems


def compare_strict(target: Facts, actual: Facts) -> list[str]:
    """Mismatches of a fifo-driven run against the target facts (README, strict rules)."""
    if not target.get("valid", True):
        return [] if actual.get("valid") is False else ["valid: expected false"]
    problems = _compare_common(target, actual)
    if "requests" in target:
        problems += compare_requests(target["requests"], actual.get("requests") or [])
    if "operations" in target:
        problems += compare_operations(target["operations"], actual.get("operations") or [])
    return problems


def compare_order_insensitive(target: Facts, actual: Facts) -> list[str]:
    """Mismatches for any scheduler: requests as one multiset; skips order-sensitive facts."""
    if not target.get("valid", True):
        return [] if actual.get("valid") is False else ["valid: expected false"]
    sensitive = set(target.get("order_sensitive") or [])
    reduced = {k: v for k, v in target.items() if k not in sensitive}
    problems = _compare_common(reduced, actual)
    if "requests" in reduced:
        flat_want = [r for batch in reduced["requests"] for r in batch]
        flat_got = [r for batch in actual.get("requests") or [] for r in batch]
        problems += _compare_request_lists("requests", flat_want, flat_got)
    return problems


def request_multiset(batches: list[list[dict[str, Any]]]) -> Counter[str]:
    """Requests of all batches as a multiset of JSON texts (for quick diffs)."""
    return Counter(json.dumps(r, sort_keys=True) for batch in batches for r in batch)
