"""core.http against a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import json
import socket

from cadenza.workers import ActivityContext, ActivityRegistry, run_activity


def test_get_json(registry: ActivityRegistry, context: ActivityContext, http_server: str) -> None:
    outcome = run_activity(
        registry, "core.http", {"url": f"{http_server}/json", "params": {"q": "x"}}, context
    )
    assert outcome.status == "succeeded"
    assert outcome.result["status_code"] == 200
    assert outcome.result["body"] == {"ok": True, "path": "/json?q=x"}
    assert outcome.result["headers"]["x-served-by"] == "cadenza-test"
    assert outcome.result["headers"]["content-type"] == "application/json"


def test_text_body_stays_text(
    registry: ActivityRegistry, context: ActivityContext, http_server: str
) -> None:
    text = run_activity(registry, "core.http", {"url": f"{http_server}/text"}, context)
    assert text.result["body"] == "plain words\n"
    mislabelled = run_activity(registry, "core.http", {"url": f"{http_server}/bad-json"}, context)
    assert mislabelled.status == "succeeded"
    assert mislabelled.result["body"] == "{not json"


def test_post_json_body_and_headers(
    registry: ActivityRegistry, context: ActivityContext, http_server: str
) -> None:
    outcome = run_activity(
        registry,
        "core.http",
        {
            "url": f"{http_server}/echo",
            "method": "post",
            "headers": {"X-Token": "t0k"},
            "body": {"name": "cadenza", "n": [1, 2]},
        },
        context,
    )
    assert outcome.status == "succeeded"
    assert outcome.result["status_code"] == 201
    echoed = outcome.result["body"]  # application/problem+json is parsed too
    assert echoed["method"] == "POST"
    assert json.loads(echoed["body"]) == {"name": "cadenza", "n": [1, 2]}
    assert echoed["content_type"] == "application/json"
    assert echoed["x_token"] == "t0k"


def test_post_string_body_is_sent_as_is(
    registry: ActivityRegistry, context: ActivityContext, http_server: str
) -> None:
    outcome = run_activity(
        registry,
        "core.http",
        {"url": f"{http_server}/echo", "method": "POST", "body": "raw=1&b=2"},
        context,
    )
    assert outcome.result["body"]["body"] == "raw=1&b=2"


def test_404_fails_with_the_response(
    registry: ActivityRegistry, context: ActivityContext, http_server: str
) -> None:
    outcome = run_activity(registry, "core.http", {"url": f"{http_server}/nowhere"}, context)
    assert outcome.status == "failed"
    assert outcome.result["status_code"] == 404
    assert outcome.result["body"] == {"error": "no such page"}
    assert outcome.error is not None
    assert outcome.error.type == "http.client_error"
    assert "404" in outcome.error.message


def test_connection_refused(registry: ActivityRegistry, context: ActivityContext) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    # The port was free a moment ago and nothing listens on it now.
    outcome = run_activity(registry, "core.http", {"url": f"http://127.0.0.1:{port}/"}, context)
    assert outcome.status == "failed"
    assert outcome.result is None
    assert outcome.error is not None
    assert outcome.error.type == "http.connection_failed"
    assert f"127.0.0.1:{port}" in outcome.error.message


def test_read_timeout(registry: ActivityRegistry, context: ActivityContext) -> None:
    with socket.socket() as silent:
        # Accepts connections (the backlog does) but never answers.
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)
        port = silent.getsockname()[1]
        outcome = run_activity(
            registry, "core.http", {"url": f"http://127.0.0.1:{port}/", "timeout": 0.3}, context
        )
    assert outcome.status == "timeout"
    assert outcome.error is not None and outcome.error.type == "task.timeout"


def test_invalid_url_is_non_retryable(registry: ActivityRegistry, context: ActivityContext) -> None:
    outcome = run_activity(registry, "core.http", {"url": "ftp://example.invalid/x"}, context)
    assert outcome.error is not None
    assert outcome.error.type == "input.invalid"
    assert outcome.error.non_retryable


def test_cancelled_before_sending(registry: ActivityRegistry, context: ActivityContext) -> None:
    context.cancel()
    outcome = run_activity(registry, "core.http", {"url": "http://127.0.0.1:9/"}, context)
    assert outcome.status == "canceled"


def test_bad_method_is_non_retryable(registry: ActivityRegistry, context: ActivityContext) -> None:
    outcome = run_activity(
        registry, "core.http", {"url": "http://127.0.0.1:9/", "method": "GE T"}, context
    )
    assert outcome.error is not None
    assert outcome.error.type == "input.invalid"
    assert outcome.error.non_retryable


def test_a_trickling_answer_is_cut_off_at_the_timeout(
    registry: ActivityRegistry, context: ActivityContext
) -> None:
    import threading

    stop = threading.Event()
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        port = server.getsockname()[1]

        def trickle() -> None:
            conn, _ = server.accept()
            with conn:
                conn.recv(65536)
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n")
                # One byte every 0.2 s: each read is quick, the whole is not.
                while not stop.wait(0.2):
                    try:
                        conn.sendall(b"x")
                    except OSError:
                        return

        thread = threading.Thread(target=trickle, daemon=True)
        thread.start()
        # Per-phase timeouts alone would let this run for 200 s (past the test's own
        # timeout); the whole-exchange one ends it after about 1 s.
        outcome = run_activity(
            registry, "core.http", {"url": f"http://127.0.0.1:{port}/", "timeout": 1}, context
        )
        stop.set()
        thread.join(timeout=5)
    assert outcome.status == "timeout"
    assert outcome.error is not None
    assert "did not finish within 1 s" in outcome.error.message
