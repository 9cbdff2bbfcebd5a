"""Fixtures of the console's browser tests: a real ``cadenza server`` process,
Debian's Chromium driven by Playwright, and a folder for screenshots.

Browsers cannot be downloaded here, so Playwright is pointed at the system's
Chromium (``$CADENZA_CHROMIUM``, default ``/usr/bin/chromium``). Without it,
or without the ``playwright`` package, the tests skip saying why; under
``CADENZA_REQUIRE_ALL=1`` the root conftest turns those skips into failures.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import httpx
import pytest

CHROMIUM = Path(os.environ.get("CADENZA_CHROMIUM", "/usr/bin/chromium"))
LISTENING = re.compile(r"listening on (http://\S+),")


class ConsoleServer:
    """One ``cadenza server`` process and an API client for setting up cases."""

    def __init__(self, process: subprocess.Popen[str], url: str, workdir: Path) -> None:
        self.process = process
        self.url = url
        self.workdir = workdir
        self.http = httpx.Client(base_url=url, timeout=30)

    def register(self, source: str, kind: str | None = None) -> str:
        answer = self.http.post("/v1/definitions", json={"source": source, "kind": kind})
        assert answer.status_code == 201, answer.text
        definition_id: str = answer.json()["id"]
        return definition_id

    def start(self, source: str, input: Any = None, kind: str | None = None) -> str:
        definition_id = self.register(source, kind)
        answer = self.http.post(
            "/v1/executions", json={"definition_id": definition_id, "input": input}
        )
        assert answer.status_code == 201, answer.text
        execution_id: str = answer.json()["id"]
        return execution_id

    def wait_for(
        self, execution_id: str, done: Callable[[dict[str, Any]], bool], timeout: float = 60
    ) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            found: dict[str, Any] = self.http.get(f"/v1/executions/{execution_id}").json()
            if done(found):
                return found
            assert time.monotonic() < deadline, f"still {found['status']}"
            time.sleep(0.05)  # polling the API with a deadline; nothing to wait on

    def stop(self) -> None:
        self.http.close()
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(timeout=30)


def start_console_server(
    workdir: Path,
    token: str | None = None,
    args: Sequence[str] = (),
    env_extra: Mapping[str, str] | None = None,
) -> ConsoleServer:
    """A server on the SQLite store in ``workdir`` (fresh unless a test filled it
    first), once it listens; ``args`` are more options of ``cadenza server``."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("CADENZA_STORE", "CADENZA_API_TOKEN") and not k.startswith("CADENZA_AWS_")
    }
    if token:
        env["CADENZA_API_TOKEN"] = token
    env.update(env_extra or {})
    store = f"sqlite:///{workdir / 'cadenza.db'}"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "cadenza",
            "server",
            "--bind",
            "127.0.0.1:0",
            "--store",
            store,
            *args,
        ],
        cwd=workdir,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stderr is not None
    deadline = time.monotonic() + 60
    for line in process.stderr:
        found = LISTENING.search(line)
        if found:
            return ConsoleServer(process, found.group(1), workdir)
        assert time.monotonic() < deadline, "the server did not start listening"
    raise AssertionError(f"the server exited ({process.wait()}) before listening")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ConsoleServer]:
    running = start_console_server(tmp_path_factory.mktemp("console-server"))
    yield running
    running.stop()


@pytest.fixture(scope="package")
def browser() -> Iterator[Any]:
    """Chromium, headless, driven by Playwright; closed when the console's tests
    are done, because Playwright's sync API keeps an event loop running on the
    main thread (later tests that run their own loop there would fail)."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("playwright is not installed: pip install -e '.[test]'")
    if not CHROMIUM.is_file():
        pytest.skip(
            f"no Chromium at {CHROMIUM} (apt-get install chromium, or set CADENZA_CHROMIUM)"
        )
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            # Root in a container has no user namespaces for Chromium's sandbox.
            args=["--no-sandbox"],
        )
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A fresh browser tab (its own session storage); confirmations are accepted."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    opened = context.new_page()
    opened.set_default_timeout(20_000)
    opened.on("dialog", lambda dialog: dialog.accept())
    yield opened
    context.close()


@pytest.fixture(scope="session")
def screenshots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the tests keep their screenshots (test artefacts)."""
    return tmp_path_factory.mktemp("console-screenshots")


CONSOLE_SOURCES = Path(__file__).resolve().parents[2] / "console"


@pytest.fixture(scope="session")
def fresh_build(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the console's sources with its locked packages installed
    (``npm ci``) and built (``npm run build``) into ``<copy>/out``.

    Built outside the checkout, so a test run never rewrites the shipped assets.
    """
    import shutil

    npm = shutil.which("npm")
    if shutil.which("node") is None or npm is None:
        pytest.skip("Node.js and npm are needed to build the console (apt-get install nodejs npm)")
    copy = tmp_path_factory.mktemp("console-build") / "console"
    shutil.copytree(CONSOLE_SOURCES, copy, ignore=shutil.ignore_patterns("node_modules"))
    for command in (
        [npm, "ci", "--no-audit", "--no-fund"],
        [npm, "run", "build", "--", "--outDir", str(copy / "out"), "--emptyOutDir"],
    ):
        done = subprocess.run(command, cwd=copy, capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, f"{' '.join(command)} failed:\n{done.stdout}\n{done.stderr}"
    return copy
