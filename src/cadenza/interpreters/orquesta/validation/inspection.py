"""The one way in: load a definition, run every check, and refuse it with every problem."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

from cadenza.interpreters.orquesta.validation.context import context_problems
from cadenza.interpreters.orquesta.validation.expressions import expression_problems
from cadenza.interpreters.orquesta.validation.graph import TaskGraph
from cadenza.interpreters.orquesta.validation.loading import expand_shorthands, load_yaml
from cadenza.interpreters.orquesta.validation.model import OrquestaDefinition, build_definition
from cadenza.interpreters.orquesta.validation.schema import syntax_problems
from cadenza.interpreters.orquesta.validation.semantics import semantic_problems
from cadenza.model.errors import DefinitionError, Problem


def load_definition(
    source: str, *, origin: str | None = None, context_names: Iterable[str] = ()
) -> OrquestaDefinition:
    """Load and inspect an Orquesta definition; return it only if it has no problem.

    ``source`` is the YAML (or JSON) text; ``origin`` names it in error messages (a file
    name, a registry key); ``context_names`` are the keys of the parent context the engine
    will pass to executions, which expressions may reference as already assigned.

    Raises :class:`~cadenza.model.errors.DefinitionLoadError` when the text cannot be read
    as a mapping (bad YAML, duplicate keys, not a mapping), and
    :class:`~cadenza.model.errors.DefinitionError` listing every problem of every category
    otherwise.
    """
    definition = parse_definition(source, origin=origin)
    problems = inspect_definition(definition, context_names=context_names)
    if problems:
        raise DefinitionError(problems=problems, source=origin)
    return definition


def parse_definition(source: str, *, origin: str | None = None) -> OrquestaDefinition:
    """Read ``source`` into an :class:`OrquestaDefinition` without inspecting it.

    Only :class:`~cadenza.model.errors.DefinitionLoadError` is raised; the result may
    break any rule, so use it only to show or inspect a definition, never to run one.
    """
    loaded = expand_shorthands(load_yaml(source, origin=origin))
    return build_definition(loaded.data, source=source, origin=origin, lines=loaded.lines)


def inspect_definition(
    definition: OrquestaDefinition, *, context_names: Iterable[str] = ()
) -> list[Problem]:
    """Every problem of ``definition``, sorted: syntax, semantics, expressions, context.

    Each problem has its category, spec path, schema path, message, and line where the
    path is found in the source. An empty list means the definition can run.
    """
    graph = TaskGraph(definition.tasks)
    found = syntax_problems(definition.document)
    found += semantic_problems(definition, graph)
    found += expression_problems(definition)
    found += context_problems(definition, graph, context_names)
    # A set: the same reference can be found twice (e.g. a task's inline input and its
    # input block), and one report of it is enough.
    located = {
        p if p.line is not None else replace(p, line=definition.line_of(p.spec_path)) for p in found
    }
    return sorted(located)
