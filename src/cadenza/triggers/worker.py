"""The trigger worker: runs a workspace's event sources and feeds its inbox.

One thread per source reads, delivers (one store transaction per batch) and
acknowledges. A source whose broker fails is started again after a pause,
until the worker is stopped. Deciding is the engine's work: run the worker
beside ``cadenza worker`` (or ``cadenza server``), or give it an engine and
``serve=True`` to decide in the same process.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence

from cadenza.engine.engine import Engine
from cadenza.interpreters.triggers.interpreter import TriggersInterpreter
from cadenza.model.errors import InputError
from cadenza.triggers.inbox import WorkspaceInbox
from cadenza.triggers.source import EventSource
from cadenza.triggers.source_settings import DEFAULT_BATCH, open_source

log = logging.getLogger("cadenza.triggers")


class TriggerWorker:
    """Feeds one workspace execution from its event sources (see the module docstring)."""

    def __init__(
        self,
        engine: Engine,
        execution_id: str,
        sources: Sequence[EventSource] | None = None,
        *,
        retry_pause: float = 1.0,
    ) -> None:
        self.engine = engine
        self.execution_id = execution_id
        self.sources = (
            list(sources) if sources is not None else workspace_sources(engine, execution_id)
        )
        self.retry_pause = retry_pause
        self.inbox = WorkspaceInbox(
            engine.store, execution_id, clock=engine.clock, on_delivered=engine.wake
        )
        #: The last error of each source that failed, by source name.
        self.errors: dict[str, BaseException] = {}

    def run(
        self,
        stop: threading.Event,
        *,
        serve: bool = False,
        until: Callable[[], bool] | None = None,
    ) -> None:
        """Run every source (and, with ``serve``, the engine) until ``stop`` is set
        or ``until()`` is true (checked every ``retry_pause`` seconds when not
        serving)."""
        threads = [
            threading.Thread(target=self._feed, args=(source, stop), name=source.name, daemon=True)
            for source in self.sources
        ]
        for thread in threads:
            thread.start()
        try:
            if serve:
                self.engine.serve(stop, until=until, own=(self.execution_id,))
            else:
                while not stop.wait(self.retry_pause):
                    if until is not None and until():
                        break
        finally:
            stop.set()
            for thread in threads:
                thread.join()

    def _feed(self, source: EventSource, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                source.run(self.inbox.deliver, stop)
            except Exception as exc:  # a broker or store failure: log it, pause, go on
                self.errors[source.name] = exc
                log.warning("event source %s failed (%s); starting it again", source.name, exc)
                stop.wait(self.retry_pause)


def workspace_sources(
    engine: Engine, execution_id: str, consumer: str | None = None, max_batch: int | None = None
) -> list[EventSource]:
    """The event sources the workspace's definition declares; ``consumer`` names
    this worker in Redis consumer groups (workers sharing a stream need
    different names, and a restarted worker should keep its own);
    ``max_batch`` replaces every source's ``max_batch`` (and lowers a larger
    ``batch`` to it)."""
    record = engine.get(execution_id)
    if record.kind != "triggers":
        raise InputError(
            f"execution {execution_id} is of kind {record.kind}, not a trigger workspace",
            execution_id=execution_id,
        )
    definition = engine.store.load_definition(record.definition_id)
    interpreter = engine.compile(definition.source, kind="triggers")
    assert isinstance(interpreter, TriggersInterpreter)
    if max_batch is not None and max_batch < 1:
        raise InputError(f"max_batch must be a whole number of at least 1, not {max_batch}")
    sources = []
    for declared in interpreter.workspace.sources:
        settings = dict(declared)
        if consumer:
            settings["consumer"] = consumer
        if max_batch is not None:
            settings["max_batch"] = max_batch
            settings["batch"] = min(int(settings.get("batch", DEFAULT_BATCH)), max_batch)
        sources.append(open_source(settings, execution_id))
    return sources
