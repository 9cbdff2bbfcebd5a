"""A saga's two forms (Python builder and YAML/JSON) give the same graph; every
problem of a bad one is reported at once, with its path."""

from __future__ import annotations

import json

import pytest
import yaml

from cadenza.interpreters.protocol import Recognition
from cadenza.interpreters.saga import (
    Faults,
    Saga,
    SagaBuilder,
    SagaFrontEnd,
    action,
    constant,
    subsaga,
)
from cadenza.interpreters.saga.graph import (
    ACTION,
    CONSTANT,
    END,
    START,
    SUBSAGA_END,
    SUBSAGA_START,
    build_graph,
)
from cadenza.model.definitions import CodeReference
from cadenza.model.errors import DefinitionError, DefinitionLoadError
from cadenza.model.events import MarkerRecorded
from cadenza.model.retry import RetryPolicy
from cadenza.store.protocol import Store

from .kit import WIDE, World, act, make_engine

YAML = """\
saga: provision
version: "2"
params: [name]
stages:
  - action: ip
    do: net.allocate
    undo: net.release
    input: {owner: "${params.name}"}
  - parallel:
      - action: disk
        do: disk.create
        undo: disk.delete
        retry: {max_attempts: 3, initial_delay: 1}
      - constant: size
        value: 10
  - subsaga: attach
    params: ip
    stages:
      - action: nic
        do: nic.create
        input: {address: "${params.address}"}
  - action: boot
    do: vm.boot
    input: {nic: "${nodes.attach}", disk: "${nodes.disk.id}", size: "${nodes.size}"}
"""


def python_form() -> Saga:
    inner = SagaBuilder("attach").append(
        action("nic", do="nic.create", input={"address": "${params.address}"})
    )
    return (
        SagaBuilder("provision", params=["name"], version="2")
        .append(
            action("ip", do="net.allocate", undo="net.release", input={"owner": "${params.name}"})
        )
        .append_parallel(
            action(
                "disk",
                do="disk.create",
                undo="disk.delete",
                retry=RetryPolicy(max_attempts=3, initial_delay=1),
            ),
            constant("size", 10),
        )
        .append(subsaga("attach", inner.build(), params="ip"))
        .append(
            action(
                "boot",
                do="vm.boot",
                input={
                    "nic": "${nodes.attach}",
                    "disk": "${nodes.disk.id}",
                    "size": "${nodes.size}",
                },
            )
        )
        .build()
    )


def test_the_python_and_yaml_forms_give_the_same_graph() -> None:
    from_yaml = build_graph(yaml.safe_load(YAML))
    saga = python_form()
    from_python = saga.graph
    assert from_python.nodes == from_yaml.nodes
    assert [(n.kind, n.path) for n in from_yaml.nodes] == [
        (START, "(start)"),
        (ACTION, "ip"),
        (ACTION, "disk"),
        (CONSTANT, "size"),
        (SUBSAGA_START, "attach"),
        (ACTION, "attach/nic"),
        (SUBSAGA_END, "attach"),
        (ACTION, "boot"),
        (END, "(end)"),
    ]
    # the fan-out and the join: disk and size both depend on ip; attach on both
    nodes = {n.path: n for n in from_yaml.nodes if n.kind != SUBSAGA_START}
    assert nodes["disk"].parents == nodes["size"].parents == (1,)
    assert from_yaml.nodes[4].parents == (2, 3)
    assert nodes["boot"].parents == (nodes["attach"].index,)
    # what each node may read: its ancestors, a subsaga only as a whole
    assert set(nodes["boot"].visible) == {"ip", "disk", "size", "attach"}
    assert set(nodes["attach/nic"].visible) == set()
    assert from_yaml.version == "2"
    assert from_yaml.nodes[2].do is not None and from_yaml.nodes[2].do.retry is not None


def test_every_problem_is_reported_with_its_path() -> None:
    bad = {
        "saga": "broken",
        "colour": "red",
        "stages": [
            {"action": "a", "do": "x.a"},
            {"parallel": []},
            {"action": "a", "do": "x.b", "input": {"v": "${nodes.nope}"}},
            {"constant": "c"},
            {"subsaga": "s", "params": "later", "stages": [{"action": "z"}]},
            {"action": "b", "undo": "y", "retry": {"max_attempts": 0}, "timeout": -1},
            {"parallel": [{"action": "p", "do": "x.p"}, {"action": "q", "do": "x.q"}]},
        ],
    }
    with pytest.raises(DefinitionError) as caught:
        build_graph(bad, origin="broken.saga.yaml")
    found = {(p.spec_path, p.message.split(" (")[0].split(":")[0]) for p in caught.value.problems}
    paths = {p.spec_path for p in caught.value.problems}
    assert paths == {
        "colour",
        "stages[1].parallel",
        "stages[2].action",
        "stages[2].input.v",
        "stages[3].value",
        "stages[4].params",
        "stages[4].stages[0].do",
        "stages[5].do",
        "stages[5].retry",
        "stages[5].timeout",
        "stages[6]",
    }, found
    text = str(caught.value)
    assert text.startswith("broken.saga.yaml: the definition has 11 problems")
    assert "the name 'a' is already used by stages[0]" in text
    assert "${nodes.nope} names no earlier node of this saga (visible: a)" in text
    assert "a saga must end with exactly one node" in text


def test_a_subsaga_cannot_see_outside_itself_nor_the_outside_inside_it() -> None:
    bad = {
        "saga": "scopes",
        "stages": [
            {"action": "outer", "do": "x.a"},
            {
                "subsaga": "inner",
                "stages": [{"action": "deep", "do": "x.b", "input": {"v": "${nodes.outer}"}}],
            },
            {"action": "last", "do": "x.c", "input": {"v": "${nodes.deep}"}},
        ],
    }
    with pytest.raises(DefinitionError) as caught:
        build_graph(bad)
    assert {p.spec_path for p in caught.value.problems} == {
        "stages[1].stages[0].input.v",
        "stages[2].input.v",
    }


def test_the_same_name_may_be_used_inside_and_outside_a_subsaga() -> None:
    graph = build_graph(
        {
            "saga": "names",
            "stages": [
                {"action": "a", "do": "x.a"},
                {"subsaga": "s", "params": "a", "stages": [{"action": "a", "do": "x.a"}]},
            ],
        }
    )
    assert [n.path for n in graph.nodes if n.kind == ACTION] == ["a", "s/a"]


def test_recognition_and_loading_errors() -> None:
    front_end = SagaFrontEnd()
    assert front_end.recognize(YAML) == Recognition.YES
    assert front_end.recognize(json.dumps(WIDE.document)) == Recognition.YES
    assert front_end.recognize("version: 1.0\ntasks: {}\n") == Recognition.NO
    assert front_end.recognize(CodeReference("sagas.kit:WIDE", "1")) == Recognition.YES
    assert front_end.recognize(CodeReference("sagas.kit:World", "1")) == Recognition.NO
    with pytest.raises(DefinitionLoadError, match="not valid YAML"):
        front_end.compile("saga: x\nstages: [\n", origin="x.saga.yaml")
    with pytest.raises(DefinitionLoadError, match=r"sagas\.kit:World is type, not a Saga"):
        front_end.compile(CodeReference("sagas.kit:World", "1"))


def test_python_callables_are_named_and_registered_by_module_and_name() -> None:
    from . import kit

    saga = SagaBuilder("callables").append(action("a", do=kit.World, undo=kit.act)).build()
    assert saga.document["stages"][0]["do"] == "sagas.kit.World"
    assert saga.document["stages"][0]["undo"] == "sagas.kit.act"
    registry = World().registry()
    saga.register_activities(registry)
    assert "sagas.kit.World" in registry and "sagas.kit.act" in registry

    def local() -> None:
        pass

    with pytest.raises(DefinitionError, match="cannot be named"):
        action("b", do=local)


def test_a_python_saga_registers_by_code_reference_with_its_version(store: Store) -> None:
    world = World()
    engine = make_engine(store, world)
    definition = engine.register(CodeReference("sagas.kit:WIDE", "7"))
    assert definition.kind == "saga"
    execution_id = engine.start(definition, {"name": "vm"})
    engine.run_until_idle(skip_time=True)
    assert engine.get(execution_id).status == "succeeded"
    marker = next(
        r.event for r in engine.history(execution_id) if isinstance(r.event, MarkerRecorded)
    )
    assert marker.details["version"] == "7"
    assert marker.details["graph"] == WIDE.graph.digest


def test_missing_parameters_fail_the_saga_before_anything_runs(store: Store) -> None:
    world = World()
    engine = make_engine(store, world)
    definition = engine.register(json.dumps(WIDE.document), kind="saga")
    execution_id = engine.start(definition, {"nom": "vm"})
    engine.run_until_idle(skip_time=True)
    record = engine.get(execution_id)
    assert record.status == "failed"
    assert record.errors[0]["type"] == "saga.params"
    assert "lacks name" in record.errors[0]["message"]
    assert not world.calls


def test_nested_subsagas_run_and_unwind_with_their_own_params(store: Store) -> None:
    world = World()
    engine = make_engine(store, world)
    innermost = SagaBuilder("disk").append(act("format", "vm/disk/format", gb="${params.gb}"))
    inner = (
        SagaBuilder("vm")
        .append(constant("sizes", {"gb": 20}))
        .append(subsaga("disk", innermost.build(), params="sizes"))
        .append(act("boot", "vm/boot", disk="${nodes.disk.inputs.gb}"))
    )
    saga = (
        SagaBuilder("nested")
        .append(act("first"))
        .append(subsaga("vm", inner.build()))
        .append(act("last", vm="${nodes.vm.id}"))
        .build()
    )
    assert [n.path for n in saga.graph.nodes if n.kind == ACTION] == [
        "first",
        "vm/disk/format",
        "vm/boot",
        "last",
    ]
    definition = engine.register(json.dumps(saga.document), kind="saga")
    execution_id = engine.start(definition, {"name": "x"})
    engine.run_until_idle(skip_time=True)
    record = engine.get(execution_id)
    assert record.status == "succeeded"
    assert record.output["inputs"]["vm"] == "boot-id"
    boot = next(t for t in engine.describe(execution_id).tasks if t.name == "vm/boot")
    assert boot.result["inputs"]["disk"] == 20

    world = World()
    engine = make_engine(store, world)
    execution_id = engine.start(definition, {}, context=Faults().action_error("last").context())
    engine.run_until_idle(skip_time=True)
    assert engine.get(execution_id).status == "failed"
    assert world.undo_order == ["vm/boot", "vm/disk/format", "first"]
