"""Pack actions as activities: one callable per action, by its StackStorm runner.

==========================  =================================================
runner_type                 runs
==========================  =================================================
``python-script``           the entry point's ``Action`` subclass, in a process of
                            its own: ``run(**params)`` with ``self.config`` from the
                            pack config; result ``{"result": <return value>,
                            "stdout", "stderr", "exit_code"}``; ``(False, value)``
                            or an exception fails the task
``local-shell-cmd``         ``cmd`` through ``/bin/sh`` (as ``core.local``)
``local-shell-script``      the entry point script, with positional parameters
                            by ``position`` and the others as ``--name=value``
==========================  =================================================

Before an action runs, its input is checked against its parameters (types, required
ones), and string values holding Jinja (``{{ name }}``, as StackStorm's parameter
defaults often do: ``cmd: "df -h {{ path }}"``) are rendered with the other
parameters and ``config_context`` (the pack config). As in StackStorm, each run of a
Python action is a process of its own (:mod:`.python_process`), so its prints are its
``stdout``, ``env`` applies, and ``timeout`` or a cancellation kills it.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import shlex
import sys
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import jinja2
import jinja2.sandbox

from cadenza.interpreters.orquesta.actions import ActionSpec
from cadenza.model.errors import ActivityError, InputError
from cadenza.model.events import JSON
from cadenza.model.secrets import mark_secrets
from cadenza.packs.metadata import RUNNER_PARAMETERS, PackAction, PackConfig
from cadenza.packs.python_process import IMPORT_FAILED
from cadenza.workers.builtins.local_shell import local_shell
from cadenza.workers.context import ActivityContext
from cadenza.workers.outcome import ActivityOutcome, OutcomeStatus

#: Error type of a Python action that returned ``(False, result)``.
ACTION_FAILED = "action.failed"
#: The module that runs one Python action in a process of its own.
PYTHON_PROCESS = "cadenza.packs.python_process"
#: Error type of an action whose runner Cadenza does not provide.
RUNNER_UNSUPPORTED = "runner.unsupported"

_JINJA = jinja2.sandbox.SandboxedEnvironment(undefined=jinja2.StrictUndefined)


def activity_for(pack: str, action: PackAction, config: PackConfig) -> Callable[..., Any]:
    """The activity that runs ``action`` of ``pack`` (``context`` is the live context)."""
    spec = action.spec
    runner = spec.runner_type
    if not action.supported:

        def unsupported(**_: Any) -> ActivityOutcome:
            return ActivityOutcome.failed(
                RUNNER_UNSUPPORTED,
                f"{spec.ref}: Cadenza cannot run actions of runner {runner!r} "
                f"(it runs: {', '.join(sorted(RUNNER_PARAMETERS))})",
                non_retryable=True,
            )

        return unsupported
    if runner == "python-script":
        return _marking(_python_activity(pack, action, config), action.secret_output)
    if runner == "local-shell-cmd":
        return _marking(_shell_command_activity(spec, config), action.secret_output)
    if runner == "local-shell-script":
        return _marking(_shell_script_activity(action, config), action.secret_output)
    raise InputError(f"{spec.ref}: runner {runner!r} runs as a workflow, not an activity")


def _marking(run: Callable[..., Any], paths: tuple[str, ...]) -> Callable[..., Any]:
    """``run`` with the result values its ``output_schema`` marks secret wrapped as
    ``{"$secret": v}``, so the worker records them as secret."""
    if not paths:
        return run

    @functools.wraps(run)
    def marked(*args: Any, **kwargs: Any) -> Any:
        outcome = run(*args, **kwargs)
        if isinstance(outcome, ActivityOutcome):
            return dataclasses.replace(outcome, result=mark_secrets(outcome.result, paths))
        return mark_secrets(outcome, paths)

    return marked


def prepared_parameters(
    spec: ActionSpec, given: Mapping[str, JSON], config: PackConfig
) -> dict[str, JSON]:
    """``given`` with defaults, Jinja in string values rendered, and types checked;
    ``ActivityError`` (not retryable, type ``input.invalid``) naming what is wrong."""
    params = spec.with_defaults(given)
    context = {**params, "config_context": dict(config.values)}
    for name, value in list(params.items()):
        if isinstance(value, str) and ("{{" in value or "{%" in value):
            try:
                params[name] = _JINJA.from_string(value).render(context)
            except jinja2.TemplateError as exc:
                raise _bad(spec, f"cannot render parameter {name!r} ({value!r}): {exc}") from exc
    problems: list[str] = []
    for param in spec.parameters:
        if param.required and params.get(param.name) is None:
            problems.append(f"the required parameter {param.name!r} is missing")
        elif param.name in params and not param.accepts(params[param.name]):
            problems.append(
                f"parameter {param.name!r} must be of type {param.type}, "
                f"not {type(params[param.name]).__name__}"
            )
    if spec.closed:
        known = {p.name for p in spec.parameters}
        problems += [f"unexpected parameter {name!r}" for name in params if name not in known]
    if problems:
        raise _bad(spec, "; ".join(problems))
    return params


def _bad(spec: ActionSpec, why: str) -> ActivityError:
    return ActivityError(f"{spec.ref}: {why}", type=InputError.code, non_retryable=True)


# --- python-script ------------------------------------------------------------------------


def _python_activity(pack: str, action: PackAction, config: PackConfig) -> Callable[..., Any]:
    spec = action.spec
    entry_point = action.entry_point
    assert entry_point is not None
    runner_only = {p.name for p in RUNNER_PARAMETERS["python-script"]} - action.declared
    module_name = f"cadenza_pack_{pack}_{entry_point.stem}".replace("-", "_")

    def run_python_action(context: ActivityContext, **given: Any) -> ActivityOutcome:
        if config.missing:
            raise ActivityError(
                f"{spec.ref}: the pack config lacks the required key(s) "
                f"{', '.join(config.missing)}",
                type=InputError.code,
                non_retryable=True,
            )
        params = prepared_parameters(spec, given, config)
        with tempfile.TemporaryDirectory(prefix="cadenza-action-") as scratch:
            request_file = Path(scratch) / "request.json"
            outcome_file = Path(scratch) / "outcome.json"
            request = {
                "entry_point": str(entry_point),
                "module_name": module_name,
                "config": dict(config.values),
                "parameters": {k: v for k, v in params.items() if k not in runner_only},
                "outcome_file": str(outcome_file),
            }
            request_file.write_text(json.dumps(request), encoding="utf-8")
            ran = local_shell(
                cmd=shlex.join([sys.executable, "-m", PYTHON_PROCESS, str(request_file)]),
                context=context,
                cwd=str(entry_point.parent),
                env=_env(params.get("env")),
                timeout=_timeout(params.get("timeout")),
            )
            reported = (
                json.loads(outcome_file.read_text(encoding="utf-8"))
                if outcome_file.is_file()
                else None
            )
        return _python_outcome(spec, ran, reported)

    run_python_action.__doc__ = spec.description or f"The Python action {spec.ref}."
    return run_python_action


def _python_outcome(
    spec: ActionSpec, ran: ActivityOutcome, reported: dict[str, Any] | None
) -> ActivityOutcome:
    """StackStorm's result of a Python action: ``{"result", "stdout", "stderr",
    "exit_code"}``, from the process's output and the outcome it wrote."""
    shell = ran.result if isinstance(ran.result, dict) else {}
    result: dict[str, JSON] = {
        "result": None if reported is None else reported.get("value"),
        "stdout": shell.get("stdout", ""),
        "stderr": shell.get("stderr", ""),
        "exit_code": shell.get("return_code"),
    }
    if reported is None:
        # Killed (timeout, cancel) or crashed before it could report: say how it ended.
        if ran.status == OutcomeStatus.SUCCEEDED or ran.error is None:
            return ActivityOutcome.failed(
                ACTION_FAILED, f"{spec.ref}: the action's process reported nothing", result=result
            )
        message = ran.error.message.replace("core.local: the command", f"{spec.ref}: the action")
        if ran.status == OutcomeStatus.TIMEOUT:
            return ActivityOutcome.timeout(message, result=result)
        if ran.status == OutcomeStatus.CANCELED:
            return ActivityOutcome.canceled(message, result=result)
        return ActivityOutcome.failed(ACTION_FAILED, message, result=result)
    error = reported.get("error")
    if isinstance(error, dict):
        return ActivityOutcome.failed(
            str(error.get("type") or ACTION_FAILED),
            f"{spec.ref}: {error.get('message')}",
            result=result,
            non_retryable=error.get("type") == IMPORT_FAILED,
            traceback=error.get("traceback"),
        )
    if not reported.get("succeeded"):
        return ActivityOutcome.failed(
            ACTION_FAILED,
            f"{spec.ref} reported failure: {_short(reported.get('value'))}",
            result=result,
        )
    return ActivityOutcome.succeeded(result)


def _short(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return text if len(text) <= 200 else text[:197] + "..."


# --- shell --------------------------------------------------------------------------------


def _shell_command_activity(spec: ActionSpec, config: PackConfig) -> Callable[..., Any]:
    def run_shell_command(context: ActivityContext, **given: Any) -> ActivityOutcome:
        params = prepared_parameters(spec, given, config)
        return local_shell(
            cmd=str(params.get("cmd") or ""),
            context=context,
            cwd=_optional_str(params.get("cwd")),
            env=_env(params.get("env")),
            timeout=_timeout(params.get("timeout")),
        )

    run_shell_command.__doc__ = spec.description or f"The shell command {spec.ref}."
    return run_shell_command


def _shell_script_activity(action: PackAction, config: PackConfig) -> Callable[..., Any]:
    spec = action.spec
    script = action.entry_point
    assert script is not None
    runner_names = {p.name for p in RUNNER_PARAMETERS["local-shell-script"]} - action.declared

    def run_shell_script(context: ActivityContext, **given: Any) -> ActivityOutcome:
        params = prepared_parameters(spec, given, config)
        script_params = {k: v for k, v in params.items() if k not in runner_names}
        args = [str(script), *script_arguments(spec, script_params)]
        return local_shell(
            cmd=shlex.join(args),
            context=context,
            cwd=_optional_str(params.get("cwd")) or str(script.parent),
            env=_env(params.get("env")),
            timeout=_timeout(params.get("timeout")),
        )

    run_shell_script.__doc__ = spec.description or f"The shell script {spec.ref}."
    return run_shell_script


def script_arguments(spec: ActionSpec, params: Mapping[str, JSON]) -> list[str]:
    """A script's command line: parameters with a ``position`` in that order (a missing
    one as an empty string), then the others as ``--name=value`` in name order (those
    whose value is ``null`` are left out)."""
    positional: dict[int, str] = {}
    named: list[str] = []
    for name in sorted(params):
        param = spec.parameter(name)
        value = params[name]
        if param is not None and param.position is not None:
            positional[param.position] = "" if value is None else _argument(value)
        elif value is not None:
            named.append(f"--{name}={_argument(value)}")
    ordered = [positional.get(i, "") for i in range(max(positional, default=-1) + 1)]
    return ordered + named


def _argument(value: JSON) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    return json.dumps(value)


def _optional_str(value: JSON) -> str | None:
    return None if value is None else str(value)


def _env(value: JSON) -> dict[str, JSON] | None:
    return dict(value) if isinstance(value, Mapping) else None


def _timeout(value: JSON) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None
