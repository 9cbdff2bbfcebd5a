"""W4 for Prefect: a fresh process runs one flow of one task (the ephemeral
server starts on the way)."""

from __future__ import annotations

import argparse

import common  # noqa: F401 - environment setup before Prefect is imported
from prefect import flow, task


@task
def noop() -> None:
    return None


@flow
def tiny() -> None:
    noop()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--store-url", help="ignored: the ephemeral server")
    parser.parse_args()
    tiny()


if __name__ == "__main__":
    main()
