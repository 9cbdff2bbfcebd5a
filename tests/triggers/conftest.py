"""Fixtures of the triggers tests: the local Redis and NATS servers.

Each broker test skips with the reason when its server cannot be reached,
except under ``CADENZA_REQUIRE_ALL=1`` (CI), where the shared conftest turns
that skip into a failure. The addresses come from ``$CADENZA_TEST_REDIS``
and ``$CADENZA_TEST_NATS``.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

REDIS_URL = os.environ.get("CADENZA_TEST_REDIS", "redis://127.0.0.1:6379/0")
NATS_URL = os.environ.get("CADENZA_TEST_NATS", "nats://127.0.0.1:4222")


@pytest.fixture
def redis_client() -> Iterator[Any]:
    """A client of the test Redis (or a skip saying why there is none)."""
    import redis

    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
    try:
        client.ping()
    except redis.RedisError as exc:
        pytest.skip(f"Redis is unreachable at {REDIS_URL} (set CADENZA_TEST_REDIS): {exc}")
    yield client
    client.close()


@pytest.fixture
def redis_stream(redis_client: Any) -> Iterator[str]:
    """A stream name of this test's own, deleted afterwards."""
    name = f"cadenza-test-{uuid.uuid4().hex[:12]}"
    yield name
    redis_client.delete(name)


@pytest.fixture
def nats_url() -> str:
    """The test NATS server's URL (or a skip saying why there is none)."""
    import nats

    async def probe() -> None:
        client = await nats.connect(
            NATS_URL, connect_timeout=2, allow_reconnect=False, max_reconnect_attempts=0
        )
        try:
            await client.jetstream().account_info()
        finally:
            await client.close()

    try:
        asyncio.run(probe())
    except Exception as exc:
        pytest.skip(f"NATS JetStream is unreachable at {NATS_URL} (set CADENZA_TEST_NATS): {exc}")
    return NATS_URL


@pytest.fixture
def nats_stream(nats_url: str) -> Iterator[str]:
    """A JetStream stream name of this test's own, deleted afterwards."""
    import nats

    name = f"CADENZA_TEST_{uuid.uuid4().hex[:12].upper()}"
    yield name

    async def delete() -> None:
        client = await nats.connect(nats_url)
        try:
            await client.jetstream().delete_stream(name)
        except Exception:
            pass  # never created
        finally:
            await client.close()

    asyncio.run(delete())
