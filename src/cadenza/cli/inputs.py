"""What the command line points at: definition files, input, the API token,
the front ends; and stopping on signals."""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import os
import re
import signal
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from cadenza.encryption import configured_key
from cadenza.engine.front_ends import FrontEnds
from cadenza.interpreters.protocol import FrontEndSettings
from cadenza.model.definitions import CodeReference, DefinitionSource
from cadenza.model.errors import InputError
from cadenza.model.secrets import SecretDeclaration, mark_secrets
from cadenza.model.yaml_documents import safe_load_bounded


def installed_front_ends(args: argparse.Namespace) -> FrontEnds:
    settings = FrontEndSettings(
        service_limits=getattr(args, "aws_limits", False),
        secret_key=configured_key(getattr(args, "key_file", None)),
    )
    return FrontEnds.installed(settings)


def read_input(args: argparse.Namespace) -> Any:
    text, where = args.input, "--input"
    if args.input_file:
        where = args.input_file
        try:
            text = Path(args.input_file).read_text(encoding="utf-8")
        except OSError as exc:
            raise InputError(f"cannot read {where}: {exc.strerror or exc}") from exc
    if text is None:
        return {}
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise InputError(f"{where} is not valid JSON: {exc}") from exc
    # ``--secret-path``: the values there become secret, as if wrapped ``{"$secret": v}``.
    value = mark_secrets(value, getattr(args, "secret_path", None) or [], required=True)
    # Declared in ``--secrets FILE`` for every run: a value an input lacks is not an error.
    return mark_secrets(value, read_secret_declaration(args).input)


def read_secret_declaration(args: argparse.Namespace) -> SecretDeclaration:
    """The secret paths of ``--secrets FILE`` and ``--secret-result STATE:PATH``."""
    path = getattr(args, "secrets", None)
    declared = SecretDeclaration()
    if path:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise InputError(f"cannot read the secrets file {path}: {exc}", path=path) from exc
        try:
            document = safe_load_bounded(text)
        except yaml.YAMLError as exc:
            raise InputError(f"the secrets file {path} is not YAML: {exc}", path=path) from exc
        declared = SecretDeclaration.from_mapping(document, f"the secrets file {path}")
    return declared.with_results(getattr(args, "secret_result", None) or [])


def read_workflow(argument: str) -> DefinitionSource:
    """What ``run`` / ``validate`` were pointed at: a definition file, or (when no
    such file exists) a code reference ``package.module:Name[@version]`` for a
    workflow written as Python (version ``1`` when not given). The current
    directory is importable, as it is for ``python -m``."""
    if not Path(argument).exists() and _CODE_REFERENCE.match(argument):
        target, _, version = argument.partition("@")
        importable_here()
        return CodeReference(target, version or "1")
    return read_definition(argument)


_CODE_REFERENCE = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_][\w.]*(@\S+)?$")


def importable_here() -> None:
    """Put the current directory on the import path (for code references and
    ``--activities`` modules next to the user's files)."""
    here = os.getcwd()
    if here not in sys.path:
        sys.path.insert(0, here)


def read_definition(path: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror or exc}") from exc


def api_token(args: argparse.Namespace, token_file: str | None = None) -> str | None:
    token_file = token_file or getattr(args, "token_file", None)
    if token_file:
        try:
            token = Path(token_file).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise InputError(f"cannot read {token_file}: {exc.strerror or exc}") from exc
        if not token:
            raise InputError(f"{token_file} holds no token")
        return token
    return os.environ.get("CADENZA_API_TOKEN") or None


_DURATION_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}


def parse_duration(text: str, option: str = "--since") -> float:
    """Seconds in ``text``: a number with a unit (``90s``, ``30m``, ``2h``, ``7d``, ``1w``)."""
    number, unit = text[:-1], text[-1:].lower()
    try:
        seconds = float(number) * _DURATION_UNITS[unit]
    except (KeyError, ValueError):
        raise InputError(
            f"{option} takes a duration such as 90s, 30m, 2h, 7d or 1w, not {text!r}"
        ) from None
    if seconds < 0:
        raise InputError(f"{option} cannot be negative ({text!r})")
    return seconds


def stop_on_signals(stop: threading.Event, let_go: Callable[[], None] | None = None) -> None:
    """SIGINT and SIGTERM set ``stop`` (running tasks get a grace period to
    finish); a second one calls ``let_go`` (release what this process holds)
    and exits at once with 130."""
    if threading.current_thread() is not threading.main_thread():
        return

    def say(text: str) -> None:
        # Straight to the file descriptor: the signal may arrive while the main
        # thread is in the middle of writing to sys.stderr, which is not reentrant.
        with contextlib.suppress(OSError):
            os.write(2, (text + "\n").encode())

    def handler(signum: int, _frame: Any) -> None:
        if not stop.is_set():
            stop.set()
            say("stopping: running tasks may finish (press Ctrl-C again to stop at once)")
            return
        say("stopping at once")
        if let_go is not None:
            # Exiting anyway: if this fails, the leases expire on their own.
            with contextlib.suppress(Exception):
                let_go()
        os._exit(130)

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)


def keep_start_up_objects() -> None:
    """Move what the process made while starting (modules, the engine, its
    compiled definitions) out of the garbage collector's reach: it lives as
    long as the process, and each full collection would walk all of it again
    (about 20 ms, once every few thousand steps of a long-running serve loop).
    No collection first: it would delay the first round by as much."""
    gc.freeze()


def exit_without_stray_threads(code: int) -> int:
    """``code``, leaving at once if task threads that were let go still run (the
    interpreter would otherwise wait for them at exit)."""
    stray = [t for t in threading.enumerate() if t.name.startswith("cadenza-task") and t.is_alive()]
    # A task thread may be just finishing (its result already saved): give those
    # a moment, so that only threads truly let go make the process leave at once.
    deadline = time.monotonic() + 2.0
    for thread in stray:
        thread.join(max(0.0, deadline - time.monotonic()))
    stray = [t for t in stray if t.is_alive()]
    if stray:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    return code


def rerun_options(args: argparse.Namespace) -> dict[str, Any]:
    """The front end's rerun options the command line gives (``--reset-items``,
    ``--input``)."""
    options: dict[str, Any] = {"reset_items": True} if getattr(args, "reset_items", False) else {}
    given = getattr(args, "input", None)
    if given is not None:
        try:
            options["input"] = json.loads(given)
        except ValueError as exc:
            raise InputError(f"--input is not valid JSON: {exc}") from exc
    return options
