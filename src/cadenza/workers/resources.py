"""The resource map: which local handler answers an action named by a resource name.

Some languages name their work by resource names rather than by activities
registered in Python (an Amazon resource name for a function, say). Run
locally, each name is mapped to a handler in a YAML or JSON file::

    arn:aws:lambda:us-east-1:111111111111:function:resize:
      python: images.handlers:resize        # callable(event) -> result
    arn:aws:lambda:us-east-1:111111111111:function:notify:
      http: http://127.0.0.1:8080/notify    # POST the event as JSON; the reply is the result
    arn:aws:lambda:us-east-1:111111111111:function:count:
      shell: jq '.items | length'           # the event as JSON on stdin; stdout is the result
    arn:aws:lambda:us-east-1:111111111111:function:report:
      shell: {command: ./report.sh, timeout: 300}   # killed after 300 s (default 60)
    s3:                                     # where ItemReader/ResultWriter find S3
      endpoint_url: http://127.0.0.1:9000
      region: us-east-1

A name with no handler does not exist (the step that uses it fails).
Python handlers are imported with the map file's folder on the import path,
so a handler module can sit next to the map.
Each handler is registered as an activity named by its resource name that takes the
whole event, so retries, leases and history work as for any activity.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import yaml

from cadenza.model.errors import ActivityError, InputError
from cadenza.model.events import JSON
from cadenza.workers.builtins.local_shell import command_environment
from cadenza.workers.builtins.s3_items import S3Settings, register_s3_actions
from cadenza.workers.registry import ActivityRegistry

Handler = Callable[[JSON], JSON]


#: The resource map's entry that says where S3 is (for a distributed Map's
#: ItemReader and ResultWriter), instead of a resource name.
S3_ENTRY = "s3"

#: Seconds a shell handler may run unless its entry says ``timeout``.
DEFAULT_SHELL_TIMEOUT = 60.0


def load_resource_map(path: str | Path) -> dict[str, dict[str, Any]]:
    """Read a resource map file; ``InputError`` naming the file and entry when it is wrong."""
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise InputError(f"cannot read resource map {path}: {exc.strerror or exc}") from exc
    except yaml.YAMLError as exc:
        raise InputError(f"resource map {path} is not YAML or JSON: {exc}") from exc
    if not isinstance(data, Mapping):
        raise InputError(f"resource map {path} must map resource ARNs to handlers")
    entries: dict[str, dict[str, Any]] = {}
    folder = str(Path(path).resolve().parent)
    for arn, spec in data.items():
        if arn == S3_ENTRY:
            if not isinstance(spec, Mapping):
                raise InputError(f"resource map {path}: s3 must map settings to values")
            S3Settings.from_mapping(spec, where=f"{path}: s3")  # checked now, not at run time
            entries[S3_ENTRY] = dict(spec)
            continue
        if not isinstance(spec, Mapping) or len(spec) != 1:
            raise InputError(
                f"resource map {path}: {arn!r} needs exactly one of python, http, shell"
            )
        entries[str(arn)] = {**spec, "_folder": folder}
    return entries


def register_resources(
    registry: ActivityRegistry, resources: Mapping[str, Mapping[str, Any]]
) -> None:
    """Register a handler activity for every ARN of ``resources``."""
    for arn, spec in resources.items():
        if arn == S3_ENTRY:
            register_s3_actions(registry, S3Settings.from_mapping(spec, where="s3"))
            continue
        registry.register(arn, _handler(arn, spec), replace=True, whole_input=True)


def _handler(arn: str, spec: Mapping[str, Any]) -> Handler:
    folder = spec.get("_folder")
    ((kind, target),) = ((k, v) for k, v in spec.items() if k != "_folder")
    if kind == "python":
        if folder and folder not in sys.path:
            sys.path.append(folder)
        return _python_handler(arn, str(target))
    if kind == "http":
        options = {"url": target} if isinstance(target, str) else dict(target)
        return _http_handler(arn, options)
    if kind == "shell":
        return _shell_handler(arn, target)
    raise InputError(f"resource {arn!r}: unknown handler kind {kind!r} (python, http, shell)")


def _python_handler(arn: str, target: str) -> Handler:
    module_name, _, attribute = target.partition(":")
    try:
        found = getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError) as exc:
        raise InputError(f"resource {arn!r}: cannot load python handler {target!r}: {exc}") from exc
    if not callable(found):
        raise InputError(f"resource {arn!r}: {target!r} is not callable")
    handler: Handler = found
    return handler


def _http_handler(arn: str, options: Mapping[str, Any]) -> Handler:
    url = options.get("url")
    if not isinstance(url, str):
        raise InputError(f"resource {arn!r}: an http handler needs a url")
    method = str(options.get("method", "POST"))
    headers = dict(options.get("headers") or {})
    timeout = float(options.get("timeout", 60))

    def call(event: JSON) -> JSON:
        import httpx  # here: costly at start-up, and only http handlers need it

        try:
            response = httpx.request(method, url, json=event, headers=headers, timeout=timeout)
        except httpx.HTTPError as exc:
            raise ActivityError(
                f"{method} {url} failed: {exc}", type="http.request_failed"
            ) from exc
        if response.status_code >= 400:
            raise ActivityError(
                f"{method} {url} answered {response.status_code}",
                type=f"http.{response.status_code}",
                details=response.text,
            )
        try:
            return response.json()
        except ValueError:
            return response.text

    return call


def _shell_handler(arn: str, target: Any) -> Handler:
    options = {"command": target} if isinstance(target, str) else dict(target)
    command = options.get("command")
    if not isinstance(command, str) or not command.strip():
        raise InputError(f"resource {arn!r}: a shell handler needs a command")
    timeout = float(options.get("timeout", DEFAULT_SHELL_TIMEOUT))

    def call(event: JSON) -> JSON:
        proc = subprocess.Popen(
            ["/bin/sh", "-c", command],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=command_environment({}),
            # Its own process group, so a timeout kills what it started too.
            start_new_session=True,
        )
        try:
            out, err = proc.communicate(json.dumps(event), timeout=timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
            raise ActivityError(
                f"the shell handler of {arn} did not finish within {timeout:g} s and was killed",
                type="States.Timeout",
            ) from None
        if proc.returncode != 0:
            tail = err.strip().splitlines()[-1:] or [f"exit {proc.returncode}"]
            raise ActivityError(tail[0], type="command.failed", details=err)
        text = out.strip()
        try:
            return json.loads(text) if text else None
        except ValueError:
            return text

    return call
