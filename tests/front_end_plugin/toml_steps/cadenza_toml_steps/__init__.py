"""cadenza-toml-steps: a Cadenza front end for a linear list of steps written in TOML.

A third-party package as any other: it imports only Cadenza's public model
and front-end protocol, and is found through its ``cadenza.front_ends``
entry point.
"""

from __future__ import annotations

from .frontend import TomlStepsFrontEnd, create, steps_view
from .interpreter import TomlStepsInterpreter

__all__ = ["TomlStepsFrontEnd", "TomlStepsInterpreter", "create", "steps_view"]
