"""Action parameter defaults that are Jinja templates, rendered as StackStorm does.

A pack action's metadata may give a parameter a default such as
``"{{ st2kv.system.api_token }}"``, ``"{{ action_context.parent.execution_id }}"``
or ``"{{ config_context.region }}"``. StackStorm renders such a default when
the action runs, with these names:

* the action's other parameters (``{{ host }}``);
* ``st2kv``: the datastore (``st2kv.system.<key>``, ``st2kv.user.<key>``,
  and the ``decrypt_kv`` filter for an encrypted value);
* ``action_context``: who runs the action (``user``, ``api_user``, ``pack``)
  and the workflow execution that is its parent (``parent.execution_id``);
* ``config_context``: the pack's config.

Here they render from what the execution recorded when it started (see
:mod:`.datastore_reads`), under the same expression budget as workflow
expressions, so the history shows the parameters the action really received.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from cadenza.expressions import ExpressionFailure, Scope
from cadenza.expressions.budget import metered, shorten
from cadenza.expressions.functions import DatastoreAccess, DatastoreView
from cadenza.expressions.scope import ExpressionBudgetFailure, FunctionFailure
from cadenza.interpreters.orquesta.actions import ActionSpec
from cadenza.interpreters.orquesta.datastore_reads import action_context

if TYPE_CHECKING:
    from cadenza.expressions.jinja_sandbox import BoundedSandbox

KIND = "JinjaEvaluationException"


@functools.cache
def _environment() -> BoundedSandbox:
    """The sandbox defaults render in, built on first use: Jinja is imported only
    by an action whose defaults are templates."""
    import jinja2

    from cadenza.expressions.jinja_sandbox import BoundedSandbox

    return BoundedSandbox(undefined=jinja2.StrictUndefined)


def _decrypt_kv(kv: Mapping[str, Any]) -> Any:
    def decrypt(value: Any) -> Any:
        if not isinstance(kv, DatastoreView) or kv.decrypt is None:
            raise FunctionFailure(
                "secret.key_invalid",
                "decrypt_kv needs the key that encrypted the value: give the key file "
                "with --key-file or CADENZA_KEY_FILE.",
            )
        return kv.decrypt(str(value))

    return decrypt


def is_template(value: Any) -> bool:
    """Whether a default is a Jinja template StackStorm would render."""
    return isinstance(value, str) and ("{{" in value or "{%" in value)


def with_rendered_defaults(
    spec: ActionSpec,
    given: Mapping[str, Any],
    kv: Mapping[str, Any],
    st2: Mapping[str, Any] | None,
) -> dict[str, Any]:
    """``given`` completed with ``spec``'s defaults, template defaults rendered.

    Only defaults that apply are rendered (a parameter the workflow gives keeps
    its value). Raises ``ExpressionFailure`` naming the action and parameter.
    """
    values = spec.with_defaults(given)
    templated = [
        p.name
        for p in spec.parameters
        if p.has_default
        and is_template(p.default)
        and (p.immutable or p.name not in given)
        and p.name in values
    ]
    if not templated:
        return values
    variables: dict[str, Any] = {k: v for k, v in values.items() if k not in templated}
    variables["st2kv"] = DatastoreAccess(Scope({}, kv=kv))
    variables["action_context"] = action_context(st2 or {})
    variables["config_context"] = dict(spec.config or {})
    for name in templated:
        values[name] = _render(spec.ref, name, str(values[name]), variables, kv)
    return values


def _render(
    ref: str, name: str, text: str, variables: dict[str, Any], kv: Mapping[str, Any]
) -> Any:
    where = f"the default of parameter {name!r} of action {ref!r}"

    def failure(detail: str, limit: str) -> ExpressionFailure:
        return ExpressionBudgetFailure(KIND, f"Unable to render {where}. {detail}", text, limit)

    def render() -> Any:
        import jinja2

        environment = _environment().overlay()
        environment.filters["decrypt_kv"] = _decrypt_kv(kv)
        try:
            stripped = text.strip()
            if stripped.startswith("{{") and stripped.endswith("}}") and stripped.count("{{") == 1:
                # A lone expression keeps its value's type, as StackStorm casts it.
                compiled = environment.compile_expression(stripped[2:-2], undefined_to_none=False)
                value = compiled(**variables)
                if isinstance(value, jinja2.Undefined):
                    str(value)  # raises: StrictUndefined
                return value
            return environment.from_string(text).render(variables)
        except ExpressionFailure:
            raise
        except Exception as exc:
            kind = exc.kind if isinstance(exc, FunctionFailure) else type(exc).__name__
            raise ExpressionFailure(
                KIND, f"Unable to render {where} '{shorten(text)}'. {kind}: {exc}"
            ) from exc

    return metered(render, failure, text)
