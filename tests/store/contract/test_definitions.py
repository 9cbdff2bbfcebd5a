"""DefinitionStore: registered definitions are kept once and never change."""

from __future__ import annotations

import dataclasses

import pytest

from cadenza.model.errors import DefinitionNotFound, WorkflowIdTaken
from cadenza.model.events import ExecutionStarted
from cadenza.store.protocol import Store
from cadenza.store.records import DefinitionRecord

from .conftest import DEFINITION, NOW, OTHER_KIND


def test_a_saved_definition_loads_as_it_was_saved(store: Store) -> None:
    store.save_definition(DEFINITION)
    store.save_definition(OTHER_KIND)
    assert store.load_definition(DEFINITION.id) == DEFINITION
    assert store.load_definition(OTHER_KIND.id) == OTHER_KIND


def test_saving_the_same_id_again_changes_nothing(store: Store) -> None:
    store.save_definition(DEFINITION)
    store.save_definition(DEFINITION)  # the same record: no error
    changed = dataclasses.replace(
        DEFINITION, name="renamed", source="other", created_at=NOW + 5, version="9"
    )
    store.save_definition(changed)
    assert store.load_definition(DEFINITION.id) == DEFINITION


def test_an_unknown_id_is_definition_not_found(store: Store) -> None:
    with pytest.raises(DefinitionNotFound) as caught:
        store.load_definition("nope")
    assert caught.value.code == "definition.not_found"
    assert "nope" in caught.value.message
    store.save_definition(DEFINITION)
    with pytest.raises(DefinitionNotFound):
        store.load_definition(DEFINITION.id + "x")


def test_a_code_definition_keeps_its_reference_and_version(store: Store) -> None:
    code = DefinitionRecord(
        id="def-code",
        kind="python",
        name="pipeline",
        source="my_package.flows:pipeline",
        created_at=NOW + 0.25,
        version="2024.06.1+build.7",
    )
    store.save_definition(code)
    loaded = store.load_definition(code.id)
    assert loaded == code
    assert loaded.version == "2024.06.1+build.7"
    assert store.load_definition(code.id).source == "my_package.flows:pipeline"


def test_a_text_definition_has_no_version(store: Store) -> None:
    store.save_definition(DEFINITION)
    assert store.load_definition(DEFINITION.id).version is None


def test_creating_an_execution_saves_a_new_definition_and_keeps_an_old_one(
    store: Store,
) -> None:
    store.create_execution("a", DEFINITION, ExecutionStarted(), NOW)
    assert store.load_definition(DEFINITION.id) == DEFINITION
    renamed = dataclasses.replace(DEFINITION, name="renamed", source="changed")
    store.create_execution("b", renamed, ExecutionStarted(), NOW)
    assert store.load_definition(DEFINITION.id) == DEFINITION


def test_a_start_refused_leaves_its_new_definition_unsaved_and_the_next_start_saves_it(
    store: Store,
) -> None:
    # A store skips writing a definition it has committed before; one whose
    # start rolled back is not among those, so the next start still writes it.
    held = ExecutionStarted(context={"workflow_id": "order-1"})
    store.create_execution("a", DEFINITION, held, NOW)
    second = dataclasses.replace(DEFINITION, id="second", name="second")
    with pytest.raises(WorkflowIdTaken):
        store.create_execution("b", second, held, NOW)
    with pytest.raises(DefinitionNotFound):
        store.load_definition(second.id)
    store.create_execution("c", second, ExecutionStarted(), NOW)
    assert store.load_definition(second.id) == second
    store.create_execution("d", second, ExecutionStarted(), NOW)
    assert store.load_execution("d").definition_id == second.id


def test_definitions_are_listed_by_name_and_kind_newest_first(store: Store) -> None:
    from cadenza.store.records import DefinitionRecord

    def saved(id: str, name: str, kind: str, at: float) -> DefinitionRecord:
        record = DefinitionRecord(id=id, kind=kind, name=name, source=id, created_at=at)
        store.save_definition(record)
        return record

    old = saved("d1", "billing", "states", 1.0)
    new = saved("d2", "billing", "states", 2.0)
    other = saved("d3", "billing", "orquesta", 3.0)
    saved("d4", "shipping", "states", 4.0)
    assert [d.id for d in store.list_definitions(name="billing")] == ["d3", "d2", "d1"]
    assert store.list_definitions(name="billing", kind="states") == [new, old]
    assert store.list_definitions(name="billing", kind="states", limit=1) == [new]
    assert [d.id for d in store.list_definitions(kind="orquesta")] == [other.id]
    assert store.list_definitions(name="nobody") == []
    assert len(store.list_definitions()) == 4
