"""Serving the console's built assets next to the API.

The console is a single page: every path it shows (``/``, ``/executions/ID``,
``/definitions``...) answers with the same ``index.html``, and the page reads
the path itself. Only those paths and ``/assets/`` are the console's; every
other path stays the API's, so an unknown API path is still a JSON 404.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from fastapi import FastAPI, HTTPException
from fastapi.responses import FileResponse, Response

#: The first segment of every path the console shows ("" is ``/``).
CONSOLE_PATHS = frozenset({"", "executions", "attention", "definitions"})

#: Asset names carry a hash of their content: a browser may keep them forever.
_IMMUTABLE = "public, max-age=31536000, immutable"
#: The page itself names the current assets: it is checked on every load.
_REVALIDATE = "no-cache"


def static_dir() -> Path:
    """Where the built console is kept inside the package."""
    return Path(__file__).with_name("static")


def _is_console_path(path: str) -> bool:
    first = path.lstrip("/").split("/", 1)[0]
    return first in CONSOLE_PATHS or path.startswith("/assets/")


def console_request(scope: Mapping[str, Any]) -> bool:
    """Whether an ASGI request only fetches the console's page or assets.

    These are public (the same files ship in the package), so a server with a
    token may let them through without one: the page then asks for the token
    and sends it with every API call.
    """
    return (
        scope.get("type") == "http"
        and scope.get("method") in ("GET", "HEAD")
        and _is_console_path(str(scope.get("path", "")))
    )


def mount_console(app: FastAPI, directory: Path | None = None) -> None:
    """Serve the console from ``directory`` (the packaged build by default) at ``/``.

    Call it after the API's routes are included, so they are matched first. A
    package built without the console's assets serves the API alone.
    """
    root = (directory or static_dir()).resolve()
    index = root / "index.html"
    if not index.is_file():
        return
    assets = (root / "assets").resolve()

    def page() -> Response:
        return FileResponse(index, media_type="text/html", headers={"cache-control": _REVALIDATE})

    def asset(name: str) -> Response:
        found = (assets / name).resolve()
        # A name with ".." or an absolute part must not reach outside the assets.
        if not found.is_relative_to(assets) or not found.is_file():
            raise HTTPException(status_code=404, detail=f"no console asset {name!r}")
        return FileResponse(found, headers={"cache-control": _IMMUTABLE})

    app.add_api_route(
        "/assets/{name:path}", asset, methods=["GET", "HEAD"], include_in_schema=False
    )
    for first in sorted(CONSOLE_PATHS):
        path = f"/{first}"
        app.add_api_route(path, page, methods=["GET", "HEAD"], include_in_schema=False)
        if first:
            app.add_api_route(
                f"{path}/{{rest:path}}", page, methods=["GET", "HEAD"], include_in_schema=False
            )
