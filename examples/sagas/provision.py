"""Provision a virtual machine as a saga written in Python.

The same saga as ``provision-vm.saga.yaml``: allocate an IP, create a disk and
an instance (in parallel), attach the disk, boot. Here each step is a Python
function, and the "cloud" is a JSON file (``cloud.json``) so that you can see
what exists after each run.

    python provision.py            # three runs: one succeeds, one unwinds, one gets stuck
    python provision.py ok         # only the first, and so on: ok | unwind | stuck

Run it from this folder; executions are kept in ``cadenza.db`` here, so
``cadenza ps``, ``cadenza status ID`` and ``cadenza history ID`` show them.
Another process can run the steps too: ``cadenza worker --activities
provision:register`` (with ``PYTHONPATH=.``).
"""

from __future__ import annotations

import json
import os
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from cadenza.engine.engine import Engine
from cadenza.interpreters.saga import SagaBuilder, action
from cadenza.model.definitions import CodeReference
from cadenza.model.errors import ActivityError
from cadenza.model.retry import RetryPolicy
from cadenza.workers.registry import ActivityRegistry

CLOUD = Path("cloud.json")


_LOCK = threading.Lock()


def _load() -> dict[str, Any]:
    if CLOUD.exists():
        loaded: dict[str, Any] = json.loads(CLOUD.read_text())
        return loaded
    return {"ips": {}, "disks": {}, "instances": {}, "locked": False}


@contextmanager
def _cloud() -> Iterator[dict[str, Any]]:
    """The cloud's state, saved (atomically) when the block ends; parallel steps
    take turns."""
    with _LOCK:
        cloud = _load()
        yield cloud
        partial = CLOUD.with_suffix(".tmp")
        partial.write_text(json.dumps(cloud, indent=2, sort_keys=True))
        os.replace(partial, CLOUD)


# --- the steps: each is idempotent, and each undo reverts its step ----------------


def allocate_ip(vm: str) -> dict[str, str]:
    """Give ``vm`` an address; asking again for the same VM returns the same one."""
    with _cloud() as cloud:
        ip = cloud["ips"].setdefault(vm, f"10.0.0.{len(cloud['ips']) + 7}")
    return {"ip": ip}


def release_ip(input: dict[str, Any], output: dict[str, Any]) -> None:
    with _cloud() as cloud:
        cloud["ips"].pop(input["vm"], None)  # already gone is fine: undos may run again


def create_disk(vm: str, gb: int) -> dict[str, Any]:
    with _cloud() as cloud:
        disk = cloud["disks"].setdefault(f"{vm}-root", {"gb": gb, "attached_to": None})
    return {"disk": f"{vm}-root", "gb": disk["gb"]}


def delete_disk(input: dict[str, Any], output: dict[str, Any]) -> None:
    with _cloud() as cloud:
        if cloud.get("locked"):
            # Reported as a failure, so that the saga's undo policy (3 attempts) runs out.
            raise ActivityError("the disk store is locked", type="DiskStoreLocked")
        cloud["disks"].pop(output["disk"], None)


def create_instance(vm: str, ip: str) -> dict[str, str]:
    with _cloud() as cloud:
        cloud["instances"].setdefault(vm, {"ip": ip, "state": "stopped"})
    return {"instance": vm}


def delete_instance(input: dict[str, Any], output: dict[str, Any]) -> None:
    with _cloud() as cloud:
        cloud["instances"].pop(output["instance"], None)


def attach_disk(instance: str, disk: str) -> dict[str, str]:
    with _cloud() as cloud:
        cloud["disks"][disk]["attached_to"] = instance
    return {"attached": disk}


def detach_disk(input: dict[str, Any], output: dict[str, Any]) -> None:
    with _cloud() as cloud:
        if input["disk"] in cloud["disks"]:
            cloud["disks"][input["disk"]]["attached_to"] = None


def boot(instance: str, hypervisor: str) -> dict[str, str]:
    if hypervisor == "down":
        raise ActivityError(f"hypervisor for {instance} is down", type="HypervisorDown")
    with _cloud() as cloud:
        cloud["instances"][instance]["state"] = "running"
    return {"instance": instance, "state": "running"}


# --- the saga -------------------------------------------------------------------------

PROVISION = (
    SagaBuilder("provision-vm", params=["vm", "disk_gb", "hypervisor"], version="1")
    .append(action("allocate_ip", do=allocate_ip, undo=release_ip, input={"vm": "${params.vm}"}))
    .append_parallel(
        action(
            "create_disk",
            do=create_disk,
            undo=delete_disk,
            input={"vm": "${params.vm}", "gb": "${params.disk_gb}"},
            undo_retry=RetryPolicy(max_attempts=3, initial_delay=0.2),
        ),
        action(
            "create_instance",
            do=create_instance,
            undo=delete_instance,
            input={"vm": "${params.vm}", "ip": "${nodes.allocate_ip.ip}"},
        ),
    )
    .append(
        action(
            "attach_disk",
            do=attach_disk,
            undo=detach_disk,
            input={
                "instance": "${nodes.create_instance.instance}",
                "disk": "${nodes.create_disk.disk}",
            },
        )
    )
    .append(
        action(
            "boot",
            do=boot,
            input={
                "instance": "${nodes.create_instance.instance}",
                "hypervisor": "${params.hypervisor}",
            },
        )
    )
    .build()
)


def register(registry: ActivityRegistry) -> None:
    """For ``cadenza worker --activities provision:register``."""
    PROVISION.register_activities(registry)


# --- a demonstration ------------------------------------------------------------------


def show(engine: Engine, execution_id: str) -> None:
    view = engine.describe(execution_id)
    print(f"  saga {execution_id[:8]}: {view.status}")
    for task in view.tasks:
        print(f"    {task.status:<9} {task.name}")
    for error in view.errors:
        print(f"    error: {error.get('message')}")
    print(f"  cloud: {json.dumps(_load(), sort_keys=True)}")


def main(scenarios: list[str]) -> None:
    engine = Engine("sqlite:///cadenza.db")
    register(engine.registry)
    definition = engine.register(CodeReference("provision:PROVISION", "1"))
    if "ok" in scenarios:
        print("1. web1: every step succeeds")
        params = {"vm": "web1", "disk_gb": 20, "hypervisor": "hv1"}
        show(engine, engine.run(definition, params).id)
    if "unwind" in scenarios:
        print("2. web2: boot fails; the completed steps are undone, latest first")
        params = {"vm": "web2", "disk_gb": 20, "hypervisor": "down"}
        show(engine, engine.run(definition, params).id)
    if "stuck" in scenarios:
        print("3. web3: boot fails and the disk cannot be deleted: the saga is stuck")
        with _cloud() as cloud:
            cloud["locked"] = True
        params = {"vm": "web3", "disk_gb": 20, "hypervisor": "down"}
        execution_id = engine.run(definition, params).id
        show(engine, execution_id)
        print("   an operator unlocks the disk store and retries the undo")
        with _cloud() as cloud:
            cloud["locked"] = False
        engine.operator_request(execution_id, "retry-undo", by="ops", reason="disk store unlocked")
        engine.drive(execution_id)
        show(engine, execution_id)
    engine.close()


if __name__ == "__main__":
    # Through the module's own name: its functions are registered as
    # ``provision.allocate_ip`` and so on, the names the saga's document holds,
    # which a worker importing this module finds too (not ``__main__.…``).
    import provision

    provision.main(sys.argv[1:] or ["ok", "unwind", "stuck"])
