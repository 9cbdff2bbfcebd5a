"""``mount_console``: the console's page answers its own paths, its assets are
served safely, and every other path stays the API's."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.testclient import TestClient

from cadenza.ui import console_request, mount_console


def console_dir(tmp_path: Path) -> Path:
    root = tmp_path / "static"
    (root / "assets").mkdir(parents=True)
    (root / "index.html").write_text("<!doctype html><title>console</title>")
    (root / "assets" / "app-1234.js").write_text("console.log('hi')")
    (tmp_path / "secret.txt").write_text("not an asset")
    return root


def api_with_console(root: Path) -> TestClient:
    app = FastAPI()

    @app.get("/v1/things/{name}")
    def thing(name: str) -> dict[str, str]:
        return {"name": name}

    mount_console(app, root)
    return TestClient(app)


def test_the_page_answers_every_console_path(tmp_path: Path) -> None:
    client = api_with_console(console_dir(tmp_path))
    for path in ("/", "/executions", "/executions/abc", "/attention", "/definitions/d1"):
        answer = client.get(path)
        assert answer.status_code == 200, path
        assert answer.text.startswith("<!doctype html>"), path
        assert answer.headers["cache-control"] == "no-cache"


def test_assets_are_served_and_cached_but_nothing_outside_them(tmp_path: Path) -> None:
    client = api_with_console(console_dir(tmp_path))
    asset = client.get("/assets/app-1234.js")
    assert asset.status_code == 200 and "console.log" in asset.text
    assert "immutable" in asset.headers["cache-control"]
    assert client.get("/assets/missing.js").status_code == 404
    assert client.get("/assets/%2e%2e/%2e%2e/secret.txt").status_code == 404


def test_the_api_keeps_its_paths(tmp_path: Path) -> None:
    client = api_with_console(console_dir(tmp_path))
    assert client.get("/v1/things/x").json() == {"name": "x"}
    assert client.get("/v1/unknown").status_code == 404
    assert client.get("/metrics").status_code == 404
    assert client.post("/").status_code == 405


def test_without_built_assets_only_the_api_is_served(tmp_path: Path) -> None:
    client = api_with_console(tmp_path / "nothing-built")
    assert client.get("/").status_code == 404
    assert client.get("/v1/things/x").status_code == 200


def test_only_fetching_the_console_is_a_console_request() -> None:
    def scope(method: str, path: str) -> dict[str, object]:
        return {"type": "http", "method": method, "path": path}

    assert console_request(scope("GET", "/"))
    assert console_request(scope("GET", "/executions/abc"))
    assert console_request(scope("HEAD", "/assets/app-1234.js"))
    assert not console_request(scope("POST", "/"))
    assert not console_request(scope("GET", "/v1/executions"))
    assert not console_request(scope("GET", "/metrics"))
    assert not console_request(scope("GET", "/openapi.json"))
