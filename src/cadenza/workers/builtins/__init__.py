"""The actions every Cadenza worker knows, by name.

====================  =====================================================
name                  does
====================  =====================================================
``core.noop``         nothing; StackStorm's result ``{"failed": false, ...}``
``core.echo``         returns its ``message`` as ``stdout`` (``core.local`` shape)
``core.local``        runs a shell command (``cmd``, ``cwd``, ``env``, ``timeout``)
``core.http``         makes an HTTP request (``url``, ``method``, ``body``, ...)
``core.ask``          waits as ``pending`` until a person answers
``core.remote``       runs a shell command on hosts over SSH (``hosts``, ``cmd``, ...)
``core.remote_sudo``  the same as ``core.remote``, under ``sudo``
====================  =====================================================

Every parameter and result shape is described in ``docs/reference/actions.md``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any

# Modules, not their functions: importing the functions here would hide the
# submodules of the same name behind them (``builtins.local_shell`` must stay
# the module, so its constants can be read and patched).
from cadenza.workers.builtins import ask, echo, http_request, local_shell, noop, remote_shell

__all__ = ["BUILTINS"]

#: Built-in action names and the callables that implement them.
BUILTINS: Mapping[str, Callable[..., Any]] = MappingProxyType(
    {
        "core.ask": ask.ask,
        "core.echo": echo.echo,
        "core.http": http_request.http_request,
        "core.local": local_shell.local_shell,
        "core.noop": noop.noop,
        "core.remote": remote_shell.remote,
        "core.remote_sudo": remote_shell.remote_sudo,
    }
)
