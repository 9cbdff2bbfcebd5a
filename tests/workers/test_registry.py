"""ActivityRegistry: registration, look-up, context detection."""

from __future__ import annotations

import pytest

from cadenza.model.errors import ActionNotFound, RegistryError
from cadenza.workers import ActivityContext, ActivityRegistry, default_registry
from cadenza.workers.builtins import BUILTINS


def test_register_and_decorator() -> None:
    registry = ActivityRegistry()

    def add(a: int, b: int) -> int:
        """Add two numbers."""
        return a + b

    assert registry.register("math.add", add) is add

    @registry.activity("math.neg")
    def neg(a: int) -> int:
        return -a

    @registry.activity()
    async def double(a: int) -> int:
        return 2 * a

    assert registry.names() == ["double", "math.add", "math.neg"]
    assert "math.add" in registry and len(registry) == 3
    assert list(registry) == registry.names()
    assert registry.get("math.add").fn is add
    assert registry.get("math.add").description == "Add two numbers."
    assert registry.get("math.neg").fn is neg
    assert not registry.get("math.neg").is_async
    assert registry.get("double").is_async


def test_registering_a_name_twice_needs_replace() -> None:
    registry = ActivityRegistry()
    registry.register("a", lambda: 1)
    with pytest.raises(RegistryError, match="already registered"):
        registry.register("a", lambda: 2)
    registry.register("a", lambda: 3, replace=True)
    assert registry.get("a").fn() == 3


@pytest.mark.parametrize("name", ["", "has space", ".lead", "trail.", "a..b", "x=y"])
def test_invalid_names_are_refused(name: str) -> None:
    with pytest.raises(RegistryError, match="invalid action name"):
        ActivityRegistry().register(name, lambda: None)


def test_non_callable_is_refused() -> None:
    with pytest.raises(RegistryError, match="not callable"):
        ActivityRegistry().register("a", 42)  # type: ignore[type-var]


def test_get_unknown_suggests_closest_names() -> None:
    registry = default_registry()
    with pytest.raises(ActionNotFound) as caught:
        registry.get("core.lcoal")
    assert "did you mean 'core.local'" in caught.value.message
    assert caught.value.code == "action.not_found"
    assert caught.value.details["suggestions"][0] == "core.local"


def test_get_unknown_without_close_names_lists_registered() -> None:
    with pytest.raises(ActionNotFound, match=r"registered: core\.ask, core\.echo"):
        default_registry().get("billing.charge")
    with pytest.raises(ActionNotFound, match="the registry is empty"):
        ActivityRegistry().get("anything")


def test_context_parameter_by_annotation_or_name() -> None:
    registry = ActivityRegistry()

    def by_annotation(x: int, ctx: ActivityContext) -> None: ...
    def by_optional_annotation(ctx: ActivityContext | None = None) -> None: ...
    def by_name(context, x):  # type: ignore[no-untyped-def]
        ...
    def without(x: int) -> None: ...

    for fn in (by_annotation, by_optional_annotation, by_name, without):
        registry.register(fn.__name__, fn)
    assert registry.get("by_annotation").context_param == "ctx"
    assert registry.get("by_optional_annotation").context_param == "ctx"
    assert registry.get("by_name").context_param == "context"
    assert registry.get("without").context_param is None


def test_async_callable_object_is_detected() -> None:
    class Job:
        async def __call__(self, n: int) -> int:
            return n

    registry = ActivityRegistry()
    registry.register("job", Job())
    assert registry.get("job").is_async


def test_default_registry_holds_every_builtin_and_is_fresh() -> None:
    first, second = default_registry(), default_registry()
    assert sorted(BUILTINS) == [
        "core.ask",
        "core.echo",
        "core.http",
        "core.local",
        "core.noop",
        "core.remote",
        "core.remote_sudo",
    ]
    # And the two actions a distributed Map's S3 items and results run as.
    assert first.names() == sorted([*BUILTINS, "states.s3.read_items", "states.s3.write_results"])
    first.register("extra", lambda: None)
    assert "extra" not in second
    for name in first.names():
        if name != "extra":
            assert first.get(name).description, f"{name} has no docstring"


def test_an_unquoted_inline_parameter_gets_a_hint() -> None:
    with pytest.raises(ActionNotFound, match=r"'core\.echo' is registered: quote the inline"):
        default_registry().get("core.echo message=hi")
