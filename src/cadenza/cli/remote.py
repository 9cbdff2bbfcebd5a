"""The CLI as a client of ``cadenza server``: one small class over httpx.

``cadenza --server URL COMMAND`` (or ``CADENZA_SERVER``) asks a server's HTTP
API instead of opening a store. Answers come back as the records and events
the local commands print, so both print the same lines and ``--json``
documents. An error answer keeps the server's code; a 4xx is bad input, as the
local command's error would be.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any
from urllib.parse import quote

import httpx

from cadenza.cli.render import ProgressPrinter
from cadenza.engine.decider import DecisionOutcome
from cadenza.model.errors import CadenzaError
from cadenza.model.events import JSON, RecordedEvent, event_from_payload
from cadenza.store.records import DecisionResult, ExecutionRecord

#: Seconds one long poll of the history waits for an event while following an
#: execution (also how long Ctrl-C may take to be noticed).
FOLLOW_WAIT = 1.0

#: The most executions the API lists in one page.
_PAGE = 1000


class RemoteError(CadenzaError):
    """The server refused a request, or could not be reached."""

    code = "api.failed"

    def __init__(self, code: str, message: str, *, bad_input: bool, **details: Any) -> None:
        super().__init__(message, **details)
        self.code = code
        self.bad_input = bad_input


def execution_record(body: dict[str, Any]) -> ExecutionRecord:
    """An API execution as the store's record of it."""
    return ExecutionRecord(
        id=body["id"],
        definition_id=body["definition_id"],
        kind=body["kind"],
        name=body["name"],
        status=body["status"],
        created_at=body["created_at"],
        updated_at=body["updated_at"],
        output=body.get("output"),
        errors=list(body.get("errors") or []),
        last_seq=body["last_seq"],
    )


def recorded_event(body: dict[str, Any]) -> RecordedEvent:
    """An API history event as the store's recorded event."""
    return RecordedEvent(
        seq=body["seq"],
        decision=body["decision"],
        time=body["time"],
        event=event_from_payload(body["type"], body["payload"]),
    )


class Remote:
    """A client of one ``cadenza server``."""

    def __init__(
        self,
        url: str,
        token: str | None = None,
        *,
        timeout: float = 30.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.url = url.rstrip("/")
        headers = {"authorization": f"Bearer {token}"} if token else {}
        self._http = httpx.Client(
            base_url=self.url, headers=headers, timeout=timeout, transport=transport
        )
        #: The server's word on each execution seen: (final, settled), when it said.
        self.verdicts: dict[str, tuple[bool, bool]] = {}

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Remote:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    # --- the API ------------------------------------------------------------------------

    def register(self, source: str, *, origin: str, kind: str | None) -> dict[str, Any]:
        """Register a definition: ``{id, kind, name, version, created_at}``."""
        body: dict[str, Any] = {"source": source, "origin": origin}
        if kind:
            body["kind"] = kind
        answer: dict[str, Any] = self._call("POST", "/v1/definitions", json=body)
        return answer

    def start(
        self,
        definition_id: str,
        workflow_input: JSON,
        tags: Sequence[str] = (),
        secret_results: Mapping[str, Sequence[str]] | None = None,
    ) -> ExecutionRecord:
        body: dict[str, Any] = {"definition_id": definition_id, "input": workflow_input}
        if tags:
            body["tags"] = list(tags)
        if secret_results:
            body["secret_results"] = {step: list(paths) for step, paths in secret_results.items()}
        return self._record(self._call("POST", "/v1/executions", json=body))

    def execution(self, execution_id: str) -> ExecutionRecord:
        return self._record(self._call("GET", f"/v1/executions/{_part(execution_id)}"))

    def executions(
        self,
        limit: int,
        *,
        statuses: Sequence[str] = (),
        kinds: Sequence[str] = (),
        since: float | None = None,
        tags: Sequence[str] = (),
        text: str | None = None,
    ) -> list[ExecutionRecord]:
        """The newest ``limit`` executions, newest first (only those in ``statuses``,
        of ``kinds``, started at or after ``since``, carrying every one of ``tags``,
        with ``text`` in the id or name, when given)."""
        found: list[ExecutionRecord] = []
        cursor: str | None = None
        while len(found) < limit:
            params: dict[str, Any] = {"limit": min(_PAGE, limit - len(found))}
            if statuses:
                params["status"] = list(statuses)
            if kinds:
                params["kind"] = list(kinds)
            if since is not None:
                params["since"] = since
            if tags:
                params["tag"] = list(tags)
            if text:
                params["q"] = text
            if cursor is not None:
                params["cursor"] = cursor
            page = self._call("GET", "/v1/executions", params=params)
            found.extend(self._record(e) for e in page["executions"])
            cursor = page.get("next_cursor")
            if cursor is None:
                break
        return found

    def history(self, execution_id: str, after_seq: int = 0) -> list[RecordedEvent]:
        """Every recorded event after ``after_seq``, a page at a time."""
        events: list[RecordedEvent] = []
        path = f"/v1/executions/{_part(execution_id)}/history"
        while True:
            page = self._call("GET", path, params={"after_seq": after_seq})
            events.extend(recorded_event(e) for e in page["events"])
            if page.get("next_after_seq") is None:
                return events
            after_seq = int(page["next_after_seq"])

    def request(self, execution_id: str, what: str) -> tuple[ExecutionRecord, Any]:
        """``cancel``, ``pause`` or ``resume``: the execution after it, and why it
        was refused (None when it was not)."""
        return self._accepted(f"/v1/executions/{_part(execution_id)}/{what}", {})

    def rerun(
        self, execution_id: str, steps: list[str], options: dict[str, Any]
    ) -> tuple[ExecutionRecord, Any]:
        body = {"steps": steps, "options": options}
        return self._accepted(f"/v1/executions/{_part(execution_id)}/rerun", body)

    def answer(
        self, execution_id: str, task: str, result: JSON, *, failed: bool
    ) -> tuple[ExecutionRecord, Any]:
        path = f"/v1/executions/{_part(execution_id)}/tasks/{_part(task)}/answer"
        return self._accepted(path, {"result": result, "failed": failed})

    def signal(
        self, execution_id: str, name: str, data: JSON, *, by: str
    ) -> tuple[ExecutionRecord, Any]:
        """Send the execution the signal ``name``: the execution after it, and
        why its language refused it (None when it did not)."""
        path = f"/v1/executions/{_part(execution_id)}/signals"
        return self._accepted(path, {"name": name, "data": data, "by": by})

    def signal_with_start(
        self,
        definition: str,
        workflow_id: str,
        name: str,
        data: JSON,
        *,
        input: JSON,
        by: str,
    ) -> tuple[ExecutionRecord, Any]:
        """Signal the open run of ``workflow_id``, or start a run of ``definition``
        (id or name) with ``input`` that takes the signal with its start: that
        run, and why its language refused the signal (None when it did not)."""
        body = {
            "definition": definition,
            "workflow_id": workflow_id,
            "name": name,
            "data": data,
            "input": input,
            "by": by,
        }
        return self._accepted("/v1/executions/signal-with-start", body)

    def terminate(self, execution_id: str, reason: str, *, by: str) -> tuple[ExecutionRecord, Any]:
        """End the execution now without asking its workflow: the execution after it."""
        path = f"/v1/executions/{_part(execution_id)}/terminate"
        return self._accepted(path, {"reason": reason, "by": by})

    def operator_request(
        self, execution_id: str, request: str, args: dict[str, JSON], *, by: str, reason: str
    ) -> tuple[ExecutionRecord, Any]:
        """Ask the execution's language for ``request``: the execution after it,
        and why it was refused (None when it was not)."""
        path = f"/v1/executions/{_part(execution_id)}/requests"
        body = {"request": request, "args": args, "by": by, "reason": reason}
        return self._accepted(path, body)

    # --- following an execution -----------------------------------------------------------

    def follow(
        self,
        execution_id: str,
        *,
        settled: Callable[[ExecutionRecord], bool],
        stop: threading.Event,
        printer: ProgressPrinter | None = None,
        after_seq: int = 0,
        wait: float = FOLLOW_WAIT,
    ) -> tuple[ExecutionRecord, bool]:
        """Follow the execution until it is settled or ``stop`` is set, feeding
        each new event after ``after_seq`` to ``printer``; between looks, a long
        poll of the history waits for the next event. Returns the last record
        seen and whether it settled."""
        while True:
            record = self.execution(execution_id)
            if printer is not None:
                # The record first: every event up to its last_seq is read here.
                events = self.history(execution_id, after_seq)
                if events:
                    after_seq = events[-1].seq
                    printer(_outcome(record, events))
            if settled(record):
                return record, True
            if stop.is_set():
                return record, False
            path = f"/v1/executions/{_part(execution_id)}/history"
            self._call("GET", path, params={"after_seq": record.last_seq, "wait": wait, "limit": 1})
            if stop.is_set():
                return record, False

    def tasks(self, execution_id: str) -> list[dict[str, str]]:
        """The execution's tasks: ``[{name, key, status}]``."""
        answer = self._call("GET", f"/v1/executions/{_part(execution_id)}/tasks")
        return [
            {"name": t["name"], "key": t["key"], "status": t["status"]} for t in answer["tasks"]
        ]

    def view(self, execution_id: str, name: str) -> JSON:
        """A history view the execution's front end offers on the server."""
        return self._call("GET", f"/v1/executions/{_part(execution_id)}/views/{_part(name)}")

    # --- plumbing -------------------------------------------------------------------------

    def _record(self, body: dict[str, Any]) -> ExecutionRecord:
        record = execution_record(body)
        if body.get("final") is not None and body.get("settled") is not None:
            self.verdicts[record.id] = (bool(body["final"]), bool(body["settled"]))
        return record

    def _accepted(self, path: str, body: dict[str, Any]) -> tuple[ExecutionRecord, Any]:
        answer = self._call("POST", path, json=body)
        return self._record(answer["execution"]), answer.get("refused")

    def _call(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: dict[str, Any] | None = None,
    ) -> Any:
        try:
            response = self._http.request(method, path, json=json, params=params)
        except httpx.HTTPError as exc:
            raise RemoteError(
                "api.unreachable",
                f"cannot reach {self.url}: {exc or type(exc).__name__}",
                bad_input=False,
            ) from exc
        try:
            body = response.json()
        except ValueError:
            body = None
        if response.is_success:
            if body is None:
                raise RemoteError(
                    "api.bad_answer",
                    f"{self.url} answered {method} {path} with something other than JSON "
                    "(is it a cadenza server?)",
                    bad_input=False,
                )
            return body
        code, message = f"http.{response.status_code}", response.reason_phrase
        if isinstance(body, dict) and isinstance(body.get("code"), str):
            code = body["code"]
            message = str(body.get("message") or message)
        details = body.get("details") if isinstance(body, dict) else None
        raise RemoteError(
            code,
            message,
            bad_input=400 <= response.status_code < 500,
            status=response.status_code,
            **({"server": details} if details else {}),
        )


def _part(text: str) -> str:
    """``text`` as one path segment."""
    return quote(text, safe="")


def _outcome(record: ExecutionRecord, events: list[RecordedEvent]) -> DecisionOutcome:
    """New events as the engine tells listeners about a decision."""
    return DecisionOutcome(
        DecisionResult(
            execution_id=record.id,
            decision_no=events[-1].decision,
            consumed_inputs=0,
            appended=[(e.decision, e.time, e.event) for e in events],
            snapshot=None,
            status=record.status,
        )
    )
