"""Event sources that feed trigger workspaces: Redis Streams, NATS JetStream, and
the HTTP binding of CloudEvents (``http_binding``) for an HTTP endpoint.

The I/O side of the triggers front end (``cadenza.interpreters.triggers`` is
the pure side): read CloudEvents from a broker, commit each batch to the
workspace's inbox in one transaction, and only then acknowledge it.
"""

from __future__ import annotations

from cadenza.triggers.inbox import WorkspaceInbox
from cadenza.triggers.source import EventSource
from cadenza.triggers.source_settings import open_source
from cadenza.triggers.worker import TriggerWorker, workspace_sources

__all__ = ["EventSource", "TriggerWorker", "WorkspaceInbox", "open_source", "workspace_sources"]
