"""Orquesta's expression languages: YAQL and Jinja, their functions, and static checks.

``evaluate(value, scope)`` renders a value; ``syntax`` finds and checks expressions
without running them. Everything here is pure: time and randomness come in the scope.
Every evaluation, in every language here, runs under an ``ExpressionBudget``
(:mod:`cadenza.expressions.budget`).
"""

from __future__ import annotations

from cadenza.expressions.budget import ExpressionBudget
from cadenza.expressions.evaluation import evaluate, has_expressions
from cadenza.expressions.scope import CurrentTask, ExpressionFailure, Scope, TaskFacts

__all__ = [
    "CurrentTask",
    "ExpressionBudget",
    "ExpressionFailure",
    "Scope",
    "TaskFacts",
    "evaluate",
    "has_expressions",
]
