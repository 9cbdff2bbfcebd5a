"""What an execution looks like to people and programs: its row, its history,
the views its front end projects, what its interpreter makes of it, and which
values to mask when showing any of these. ``Engine`` offers these as its methods.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from cadenza.engine.datastore_snapshot import decrypted_secrets
from cadenza.engine.front_ends import FrontEnds
from cadenza.engine.interpreter_cache import InterpreterCache
from cadenza.interpreters.protocol import ExecutionView, Interpreter
from cadenza.interpreters.replay import replay_into
from cadenza.model.errors import InputError
from cadenza.model.events import JSON, ExecutionStarted, RecordedEvent
from cadenza.model.secrets import recorded_secrets
from cadenza.store.protocol import Store
from cadenza.store.records import ExecutionRecord


class ExecutionViews:
    """The reading part of ``Engine`` (it provides the store, the front ends, the
    compiled interpreters and the cache of secrets used here)."""

    store: Store
    front_ends: FrontEnds
    _interpreters: InterpreterCache
    _secrets: dict[str, list[str]]
    _secrets_read_to: dict[str, int]

    def get(self, execution_id: str) -> ExecutionRecord:
        """The execution's row (``ExecutionNotFound`` if there is none)."""
        return self.store.load_execution(execution_id)

    def history(self, execution_id: str, after_seq: int = 0) -> list[RecordedEvent]:
        """The execution's recorded events after ``after_seq``."""
        return self.store.read_history(execution_id, after_seq)

    def secrets_of(self, execution_id: str) -> list[str]:
        """The values marked secret in the execution's input and in the input of its
        tasks and children (``cadenza.model.secrets.recorded_secrets``), and the clear
        texts of the encrypted datastore values it recorded, for masking what is
        shown."""
        found = self._secrets.get(execution_id)
        seen = self._secret_seqs().get(execution_id, 0)
        # Tasks scheduled since the last look may mark new secrets: read only those.
        new = self.store.read_history(execution_id, seen)
        if found is None:
            started = new[0].event if new else None
            if not isinstance(started, ExecutionStarted):
                return []  # not decided yet: nothing recorded to show, nor to cache
            found = decrypted_secrets(started.meta, self.front_ends.settings.secret_key)
        elif not new:
            return found
        known = set(found)
        for recorded in new:
            known.update(recorded_secrets(recorded.event))
        found = sorted(known, key=len, reverse=True)  # a longer secret is masked first
        if len(self._secrets) > 10_000:
            self._secrets.clear()
            self._secret_seqs().clear()
        self._secrets[execution_id] = found
        self._secret_seqs()[execution_id] = new[-1].seq
        return found

    def _secret_seqs(self) -> dict[str, int]:
        """The last history seq read into ``_secrets``, per execution."""
        seqs = getattr(self, "_secrets_read_to", None)
        if seqs is None:
            seqs = self._secrets_read_to = {}
        return seqs

    def history_view(self, execution_id: str, view: str) -> JSON:
        """The history projected by its front end's view named ``view``."""
        record = self.get(execution_id)
        views = self.front_ends.require(record.kind).history_views()
        if view not in views:
            offered = ", ".join(sorted(views)) or "none"
            raise InputError(
                f"{record.kind} executions offer no history view {view!r} (offered: {offered})",
                view=view,
            )
        return views[view](self.history(execution_id))

    def interpreter_of(self, definition_id: str) -> Interpreter:
        """The definition compiled (once per process)."""
        interpreter = self._interpreters.get(definition_id)
        if interpreter is None:
            interpreter = self._interpreters.compile(self.store.load_definition(definition_id))
        return interpreter

    def replayed(self, execution_id: str) -> tuple[Interpreter, Any]:
        """The execution's interpreter and its state rebuilt from history."""
        record = self.get(execution_id)
        interpreter = self.interpreter_of(record.definition_id)
        # The saved snapshot and the events after it: replaying a long history
        # from the start (a 5,000-item fan-out) takes seconds.
        snapshot, tail = self.store.snapshot_and_tail(execution_id)
        state = interpreter.new_state() if snapshot is None else interpreter.load_state(snapshot)
        replay_into(interpreter, state, tail)
        return interpreter, state

    def describe(self, execution_id: str) -> ExecutionView:
        """The execution as its interpreter sees it, rebuilt from history."""
        record = self.get(execution_id)
        interpreter, state = self.replayed(execution_id)
        view = interpreter.describe(state)
        if self.is_final(record) and view.status != record.status:
            # Ended by the engine, not by the interpreter (a forced terminate):
            # the row is the truth about how it ended.
            return replace(view, status=record.status, errors=list(record.errors) or view.errors)
        return view

    def is_settled(self, record: ExecutionRecord) -> bool:
        """Whether nothing more happens to this execution on its own: it is
        final, or waits for an operator (by its front end's statuses)."""
        front_end = self.front_ends.require(record.kind)
        return record.status in front_end.final_statuses | front_end.waiting_statuses

    def is_final(self, record: ExecutionRecord) -> bool:
        """Whether the execution is over, by its front end's final statuses."""
        return record.status in self.front_ends.require(record.kind).final_statuses
