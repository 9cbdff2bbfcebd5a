"""Static facts about the expressions in a string: where they are, whether they parse,
which context variables they name.

Orquesta strings hold YAQL (``<% ... %>``) or Jinja (``{{ ... }}`` and ``{% ... %}``
blocks), never both. Nothing here evaluates anything; definition inspection uses these
functions to report problems before a workflow runs, and the evaluators use
:func:`find_expressions` to find what to evaluate.

Delimiters are matched the way Orquesta matches them: the shortest span on one line
(``.`` does not cross a newline), so an expression split over lines is not seen as one.
"""

from __future__ import annotations

import collections.abc  # noqa: F401 - yaql 3.x uses collections.abc without importing it
import functools
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from cadenza.expressions.budget import current_meter

if TYPE_CHECKING:
    import jinja2

Language = Literal["yaql", "jinja"]
"""The expression languages of Orquesta."""

MULTIPLE_TYPES_MESSAGE = "Expression with multiple types is not supported."

_YAQL = re.compile(r"<%.*?%>")
_JINJA_VARIABLE = re.compile(r"{{.*?}}")
_JINJA_BLOCK = re.compile(r"{%.*?%}")

# A ``ctx(...)`` reference as Orquesta's inspection finds it: the call, then an optional
# attribute chain.
_CTX_REFERENCE = re.compile(r"""\bctx\(['"]?[][a-zA-Z0-9_'".()]*['"]?\)\.?[][a-zA-Z0-9_'".()]*""")
_VARIABLE_NAME = r"[a-zA-Z0-9_-]+"
_NAME_EXTRACTORS = (
    re.compile(rf"(?<=\bctx\(\)\.)({_VARIABLE_NAME})\b(?!\()\.?"),  # ctx().x
    re.compile(rf"\bctx\(({_VARIABLE_NAME})\)"),  # ctx(x)
    re.compile(rf"\bctx\('({_VARIABLE_NAME})'\)"),  # ctx('x')
    re.compile(rf'\bctx\("({_VARIABLE_NAME})"\)'),  # ctx("x")
)

_PARSED_CACHE_SIZE = 4096
"""Parsed expressions kept: a definition's expressions are evaluated again at every step."""


# YAQL and Jinja are imported where they are first used, not here: importing them
# costs tens of milliseconds each, and a definition may use neither language.


def _budget_options(options: Any) -> Any:
    """``options`` (YAQL engine options) with limits that follow the running
    evaluation's budget.

    YAQL reads ``yaql.memoryQuota`` at every function call and argument, which
    makes it the hook where the CPU budget is checked too. Outside an
    evaluation (static checks) there are no limits.
    """
    import yaql.language.utils as yaql_utils

    class BudgetOptions(yaql_utils.FrozenDict):  # type: ignore[misc]
        def get(self, key: str, default: Any = None) -> Any:
            meter = current_meter()
            if meter is not None:
                if key == "yaql.memoryQuota":
                    meter.tick()
                    return meter.budget.max_bytes
                if key == "yaql.limitIterators":
                    return meter.budget.max_items
            return super().get(key, default)

    return BudgetOptions(options)


@functools.cache
def yaql_engine() -> Any:
    """The process's one YAQL parser, made on first use; its parser tables come from
    the user's cache when an earlier process built them (see ``yaql_tables``)."""
    from cadenza.expressions.yaql_tables import create_engine

    engine = create_engine()
    # The engine keeps its options in this attribute; there is no public way to
    # make them follow each evaluation.
    engine._options = _budget_options(engine.options)
    return engine


@functools.lru_cache(maxsize=_PARSED_CACHE_SIZE)
def parse_yaql(body: str) -> Any:
    """The parsed YAQL expression ``body`` (without delimiters); raises on bad syntax.

    Parsed expressions hold no evaluation state, so one can be evaluated any number of
    times, in any context. Failures are not cached: they are rare and cheap to repeat.
    """
    return yaql_engine()(body)


@functools.cache
def _jinja_environment() -> jinja2.Environment:
    """The environment Jinja syntax is checked in, built on first use."""
    import jinja2

    return jinja2.Environment(
        undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True
    )


@dataclass(frozen=True)
class Expression:
    """One expression found in a string.

    ``text`` includes its delimiters (``<% ctx(x) %>``, ``{{ ctx(x) }}``, ``{% if ... %}``);
    ``block`` is true for a Jinja statement block; ``start`` is its offset in the string.
    """

    language: Language
    text: str
    start: int
    block: bool = False

    @property
    def body(self) -> str:
        """The expression without its delimiters and surrounding blanks."""
        return self.text[2:-2].strip()


@dataclass(frozen=True)
class ExpressionSyntaxError:
    """An expression that does not parse.

    ``language`` is None for a string that mixes both languages; ``expression`` is the
    offending text with delimiters (the whole string for mixed languages and for Jinja
    template-level errors such as an unclosed block).
    """

    language: Language | None
    expression: str
    message: str


@dataclass(frozen=True)
class VariableReference:
    """A context variable named by ``ctx(name)``, ``ctx('name')``, ``ctx("name")`` or
    ``ctx().name`` inside an expression of ``language``."""

    language: Language
    name: str


def find_expressions(text: str) -> list[Expression]:
    """Every YAQL and Jinja expression in ``text``, in order of position."""
    found = [Expression("yaql", m.group(0), m.start()) for m in _YAQL.finditer(text)]
    found += [Expression("jinja", m.group(0), m.start()) for m in _JINJA_VARIABLE.finditer(text)]
    found += [
        Expression("jinja", m.group(0), m.start(), block=True) for m in _JINJA_BLOCK.finditer(text)
    ]
    return sorted(found, key=lambda e: e.start)


def languages_in(text: str) -> list[Language]:
    """The languages used in ``text`` (empty for a plain string), sorted."""
    languages: list[Language] = []
    if _JINJA_VARIABLE.search(text) or _JINJA_BLOCK.search(text):
        languages.append("jinja")
    if _YAQL.search(text):
        languages.append("yaql")
    return languages


def has_expressions(text: str) -> bool:
    """Whether ``text`` contains at least one expression of either language."""
    return bool(languages_in(text))


def syntax_errors(text: str) -> list[ExpressionSyntaxError]:
    """The parse errors of the expressions in ``text`` (empty when all parse).

    A string that uses both languages gets the single error
    ``"Expression with multiple types is not supported."``.
    """
    languages = languages_in(text)
    if len(languages) > 1:
        return [ExpressionSyntaxError(None, text, MULTIPLE_TYPES_MESSAGE)]
    if languages == ["yaql"]:
        return _yaql_syntax_errors(text)
    if languages == ["jinja"]:
        return _jinja_syntax_errors(text)
    return []


def _yaql_syntax_errors(text: str) -> list[ExpressionSyntaxError]:
    import yaql.language.exceptions as yaql_exceptions

    errors = []
    for match in _YAQL.finditer(text):
        expr = match.group(0)
        try:
            parse_yaql(expr[2:-2].strip())
        except (yaql_exceptions.YaqlException, ValueError, TypeError) as exc:
            errors.append(ExpressionSyntaxError("yaql", expr, str(exc)))
    return errors


def _jinja_syntax_errors(text: str) -> list[ExpressionSyntaxError]:
    import jinja2
    import jinja2.parser

    environment = _jinja_environment()
    errors = []
    # The whole template first: that catches unbalanced blocks and bad delimiters.
    try:
        environment.parse(text)
    except jinja2.TemplateError as exc:
        errors.append(ExpressionSyntaxError("jinja", text, str(exc)))
    for match in _JINJA_VARIABLE.finditer(text):
        expr = match.group(0)
        if any(e.expression == expr for e in errors):
            continue
        try:
            body = expr[2:-2].strip()
            jinja2.parser.Parser(environment.overlay(), body, state="variable").parse_expression()
        except jinja2.TemplateError as exc:
            errors.append(ExpressionSyntaxError("jinja", expr, str(exc)))
    return errors


def variable_references(text: str) -> list[VariableReference]:
    """The context variables ``text`` names through ``ctx``, unique, sorted by name.

    Only inline expressions are searched (not Jinja ``{% %}`` blocks), and only literal
    names: a name computed at run time cannot be checked before the run.
    """
    found: set[VariableReference] = set()
    for expr in find_expressions(text):
        if expr.block:
            continue
        for reference in _CTX_REFERENCE.findall(expr.body):
            for extractor in _NAME_EXTRACTORS:
                match = extractor.search(reference.strip())
                if match:
                    found.add(VariableReference(expr.language, match.group(1)))
    return sorted(found, key=lambda r: (r.name, r.language))


def referenced_variables(text: str) -> list[str]:
    """The names of the context variables ``text`` references, unique and sorted."""
    return sorted({r.name for r in variable_references(text)})
