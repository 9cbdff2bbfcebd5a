"""Requests generated from the server's own OpenAPI document by schemathesis
(bounded examples, a fixed seed) against a real server process: no request
makes it fail with a 5xx, and every answer fits the document."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from .test_http_api import start_server

CHECKS = ",".join(
    [
        "not_a_server_error",
        "status_code_conformance",
        "content_type_conformance",
        "response_schema_conformance",
    ]
)


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_no_generated_request_makes_the_server_fail(tmp_path: Path) -> None:
    server = start_server(f"sqlite:///{tmp_path / 'cadenza.db'}", tmp_path)
    command = shutil.which("st", path=str(Path(sys.executable).parent)) or "st"
    try:
        done = subprocess.run(
            [
                command,
                "run",
                f"{server.url}/openapi.json",
                "--checks",
                CHECKS,
                "--max-examples",
                "20",
                "--seed",
                "7",
                "--request-timeout",
                "30",
                "--workers",
                "1",
                # A claim long-polls for up to a minute per request: its input
                # checks are covered by test_workers, not by a timed fuzz.
                "--exclude-path",
                "/v1/workers/tasks/claim",
            ],
            capture_output=True,
            text=True,
            timeout=600,
            cwd=tmp_path,
            env={**os.environ, "NO_COLOR": "1"},
        )
    finally:
        server.stop()
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-2000:]
