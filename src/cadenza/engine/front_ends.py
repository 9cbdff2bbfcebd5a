"""Finding front ends, and which one reads a definition.

Front ends are plug-ins: each is registered under the ``cadenza.front_ends``
entry-point group, named by its kind, pointing at a factory that takes a
``FrontEndSettings`` and returns a ``FrontEnd``. Cadenza's own are
registered the same way in its ``pyproject.toml``; an installed package adds
a language by declaring one more entry point, and nothing here names any.

Which front end reads a source is the front ends' own call: a file suffix
that one of them declares decides first, then each says how sure it is that
the content is its language. Nobody sure, or several, is an error asking for
the kind by name.

Entry points are read straight from the ``entry_points.txt`` of each installed
distribution on ``sys.path`` (:func:`registered`): ``importlib.metadata`` takes
tens of milliseconds to import, which every ``cadenza`` process would pay at
start. Where distributions may come from elsewhere (a zip file on the path, an
import hook that provides distributions), ``importlib.metadata`` is used.
"""

from __future__ import annotations

import importlib
import logging
import os
import re
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from importlib.machinery import PathFinder
from typing import Any

from cadenza.interpreters.protocol import FrontEnd, FrontEndSettings, Recognition
from cadenza.model.definitions import CodeReference, DefinitionSource
from cadenza.model.errors import FrontEndError, FrontEndNotFound, KindUnclear

#: The entry-point group front ends register under.
ENTRY_POINT_GROUP = "cadenza.front_ends"

log = logging.getLogger("cadenza.engine")

FrontEndFactory = Callable[[FrontEndSettings], FrontEnd]


class FrontEnds(Mapping[str, FrontEnd]):
    """The front ends one engine uses, by kind, loaded on first use.

    A process that never sees a language never imports it: a factory runs the
    first time its kind is asked for (or when detection needs every one).
    """

    def __init__(
        self,
        front_ends: Mapping[str, FrontEnd | FrontEndFactory] | Iterable[FrontEnd] = (),
        *,
        settings: FrontEndSettings | None = None,
    ) -> None:
        self.settings = settings or FrontEndSettings()
        self._factories: dict[str, FrontEndFactory] = {}
        self._loaded: dict[str, FrontEnd] = {}
        #: Front ends that failed to load, with why (reported once, then skipped
        #: where every front end is consulted).
        self._broken: dict[str, FrontEndError] = {}
        #: ``usable()``, worked out once: the set of front ends is fixed at
        #: construction and a broken one stays broken, so every round of an
        #: engine can ask without loading anything again.
        self._usable: tuple[str, ...] | None = None
        self._usable_kinds: frozenset[str] | None = None
        items = (
            front_ends.items()
            if isinstance(front_ends, Mapping)
            else ((front_end.kind, front_end) for front_end in front_ends)
        )
        for kind, found in items:
            if callable(found) and not hasattr(found, "compile"):
                self._factories[kind] = found
            else:
                self._loaded[kind] = found  # type: ignore[assignment]

    @classmethod
    def installed(cls, settings: FrontEndSettings | None = None) -> FrontEnds:
        """Every front end registered under ``cadenza.front_ends``."""
        factories: dict[str, FrontEndFactory] = {}
        for entry in sorted(registered(ENTRY_POINT_GROUP), key=lambda e: e.name):
            if entry.name in factories:
                log.warning("front end %r is registered twice; using the first", entry.name)
                continue
            factories[entry.name] = _entry_factory(entry)
        return cls(factories, settings=settings)

    # --- Mapping ---------------------------------------------------------------------

    def __getitem__(self, kind: str) -> FrontEnd:
        found = self._loaded.get(kind)
        if found is not None:
            return found
        factory = self._factories.get(kind)
        if factory is None:
            raise KeyError(kind)
        broken = self._broken.get(kind)
        if broken is not None:
            raise broken
        try:
            front_end = factory(self.settings)
            if front_end.kind != kind:
                raise FrontEndError(
                    f"the front end registered as {kind!r} says its kind is {front_end.kind!r}",
                    kind=kind,
                )
        except FrontEndError as exc:
            self._broken[kind] = exc
            log.error("%s", exc.message)
            raise
        self._loaded[kind] = front_end
        return front_end

    def usable(self) -> list[str]:
        """The kinds whose front end loads (a broken plug-in is left out, and named
        in the log once), in order. Every front end is loaded on the first call only."""
        if self._usable is None:
            kinds = []
            for kind in self:
                try:
                    self[kind]
                except FrontEndError:
                    continue
                kinds.append(kind)
            self._usable = tuple(kinds)
        return list(self._usable)

    def usable_kinds(self) -> frozenset[str]:
        """``usable()`` as a set, built once (an engine's every round asks)."""
        if self._usable_kinds is None:
            self._usable_kinds = frozenset(self.usable())
        return self._usable_kinds

    def __iter__(self) -> Iterator[str]:
        return iter(sorted({*self._factories, *self._loaded}))

    def __len__(self) -> int:
        return len({*self._factories, *self._loaded})

    def __contains__(self, kind: object) -> bool:
        return kind in self._factories or kind in self._loaded

    # --- lookups ---------------------------------------------------------------------

    def require(self, kind: str) -> FrontEnd:
        """The front end of ``kind``, or ``FrontEndNotFound`` naming the known kinds."""
        if kind not in self:
            known = ", ".join(self) or "none"
            raise FrontEndNotFound(
                f"no front end reads definitions of kind {kind!r} (installed: {known})",
                kind=kind,
            )
        return self[kind]

    def kind_of(self, source: DefinitionSource, origin: str | None = None) -> str:
        """The kind of ``source`` (read from ``origin``, a file name, if given).

        ``KindUnclear`` when no front end, or more than one, claims it.
        """
        where = origin or ("the code reference" if isinstance(source, CodeReference) else None)
        if origin and not isinstance(source, CodeReference):
            by_suffix = self._by_suffix(origin)
            if by_suffix is not None:
                return by_suffix
        sure: list[str] = []
        maybe: list[str] = []
        for kind in self.usable():
            recognition = self[kind].recognize(source)
            if recognition >= Recognition.YES:
                sure.append(kind)
            elif recognition >= Recognition.POSSIBLY:
                maybe.append(kind)
        for candidates in (sure, maybe):
            if len(candidates) == 1:
                return candidates[0]
            if len(candidates) > 1:
                raise KindUnclear(
                    f"{where or 'the definition'} reads as more than one kind "
                    f"({', '.join(candidates)}); name it with --kind",
                    candidates=candidates,
                )
        raise KindUnclear(
            f"no installed front end ({', '.join(self.usable()) or 'none'}) recognises "
            f"{where or 'the definition'}; name its kind with --kind",
            candidates=[],
        )

    def _by_suffix(self, origin: str) -> str | None:
        best: tuple[int, str] | None = None
        tied = False
        for kind in self.usable():
            for suffix in self[kind].suffixes:
                if origin.endswith(suffix):
                    if best is None or len(suffix) > best[0]:
                        best, tied = (len(suffix), kind), False
                    elif len(suffix) == best[0] and kind != best[1]:
                        tied = True
        return None if best is None or tied else best[1]

    def settled_statuses(self) -> frozenset[str]:
        """Statuses in which an execution does nothing on its own, in any kind:
        final, or waiting for an operator."""
        statuses: set[str] = set()
        for kind in self.usable():
            front_end = self[kind]
            statuses |= front_end.final_statuses | front_end.waiting_statuses
        return frozenset(statuses)

    def attention_statuses(self) -> frozenset[str]:
        """Statuses in which an execution waits for a person, in any kind: paused
        for an answer, stuck unwinding, stopped on changed code."""
        statuses: set[str] = set()
        for kind in self.usable():
            statuses |= self[kind].waiting_statuses
        return frozenset(statuses)


@dataclass(frozen=True)
class Registration:
    """One entry point: ``name = value`` under a group, ``value`` being
    ``module:attribute`` (the attribute part optional, extras ignored)."""

    name: str
    value: str

    def load(self) -> Any:
        """The object the entry point names, importing its module."""
        module, _, attribute = self.value.partition("[")[0].partition(":")
        found: Any = importlib.import_module(module.strip())
        for part in filter(None, attribute.strip().split(".")):
            found = getattr(found, part)
        return found


def registered(group: str) -> list[Registration]:
    """Every entry point of ``group`` that the installed distributions declare,
    in the order ``importlib.metadata.entry_points`` gives them."""
    if not _paths_only():
        from importlib.metadata import entry_points

        return [Registration(e.name, e.value) for e in entry_points(group=group)]
    found: list[Registration] = []
    seen: set[str] = set()
    for entry in sys.path:
        folder = entry or "."
        try:
            names = os.listdir(folder)
        except OSError:
            continue
        for name in names:
            stem, dot, suffix = name.rpartition(".")
            if not dot or suffix not in ("dist-info", "egg-info"):
                continue
            # The first distribution of a name on the path hides later ones.
            distribution = re.sub(r"[-_.]+", "_", stem.partition("-")[0]).lower()
            if distribution in seen:
                continue
            seen.add(distribution)
            try:
                with open(os.path.join(folder, name, "entry_points.txt"), encoding="utf-8") as f:
                    text = f.read()
            except OSError:
                continue
            found.extend(_section(text, group))
    return found


def _paths_only() -> bool:
    """Whether every distribution is a folder on ``sys.path``: no zip or egg file
    on it, and no import hook besides the standard one that provides distributions."""
    for finder in sys.meta_path:
        if finder is not PathFinder and hasattr(finder, "find_distributions"):
            return False
    return not any(entry and os.path.isfile(entry) for entry in sys.path)


def _section(text: str, group: str) -> list[Registration]:
    """The ``name = value`` lines of the ``[group]`` section of an entry_points.txt."""
    found: list[Registration] = []
    current: str | None = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            current = line[1:-1].strip()
        elif current == group:
            name, equals, value = line.partition("=")
            if equals:
                found.append(Registration(name.strip(), value.strip()))
    return found


def _entry_factory(entry: Registration) -> FrontEndFactory:
    def load(settings: FrontEndSettings) -> FrontEnd:
        try:
            factory = entry.load()
            front_end: FrontEnd = factory(settings)
        except Exception as exc:  # a broken plug-in must name itself, not crash blind
            raise FrontEndError(
                f"the front end {entry.name!r} ({entry.value}) cannot be loaded: "
                f"{type(exc).__name__}: {exc}",
                kind=entry.name,
            ) from exc
        return front_end

    return load
