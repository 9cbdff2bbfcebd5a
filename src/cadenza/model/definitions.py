"""What a definition can be: source text, or a reference to Python code.

Most front ends read text (YAML, JSON, TOML). A front end whose workflows are
written as Python (a class or function) is handed a ``CodeReference``
instead: where the code lives and which version of it the user vouches for.
The version is the user's promise that code under the same version decides
the same way; history recorded under one version is replayed by code of the
same version.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from cadenza.model.errors import InputError

_TARGET = re.compile(r"^[A-Za-z_][\w]*(\.[A-Za-z_][\w]*)*:[A-Za-z_][\w]*(\.[A-Za-z_][\w]*)*$")


@dataclass(frozen=True)
class CodeReference:
    """Python code named ``module:qualname`` (``billing.flows:Invoice``) at ``version``."""

    target: str
    version: str

    def __post_init__(self) -> None:
        if not _TARGET.match(self.target):
            raise InputError(
                f"a code reference is 'package.module:QualifiedName', not {self.target!r}",
                target=self.target,
            )
        if not self.version or not self.version.strip():
            raise InputError(
                f"the code reference {self.target!r} needs a version (any non-empty text)",
                target=self.target,
            )

    @property
    def module(self) -> str:
        """The module to import."""
        return self.target.split(":", 1)[0]

    @property
    def qualname(self) -> str:
        """The dotted name inside the module."""
        return self.target.split(":", 1)[1]

    def __str__(self) -> str:
        return f"{self.target}@{self.version}"


#: A definition as a front end receives it.
DefinitionSource = str | CodeReference
