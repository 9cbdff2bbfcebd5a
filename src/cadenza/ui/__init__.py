"""The web console: a browser client of the HTTP API, served by ``cadenza server``.

The console's sources live in ``console/`` at the top of the repository; their
build is kept in ``static/`` here, so installing the package needs no Node.js.
"""

from __future__ import annotations

from cadenza.ui.console import CONSOLE_PATHS, console_request, mount_console, static_dir

__all__ = ["CONSOLE_PATHS", "console_request", "mount_console", "static_dir"]
