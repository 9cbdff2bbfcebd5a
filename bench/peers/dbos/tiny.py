"""W4 for DBOS: a fresh process launches DBOS and runs one one-step workflow."""

from __future__ import annotations

import argparse

from common import DBOS, launch


@DBOS.step()
def noop() -> None:
    return None


@DBOS.workflow()
def tiny() -> None:
    noop()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--store-url", required=True)
    args = parser.parse_args()
    launch(args.store_url)
    tiny()
    DBOS.destroy()


if __name__ == "__main__":
    main()
