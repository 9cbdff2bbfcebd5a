"""The saga examples run as the README says, as a new user would run them: real
``cadenza`` and ``python`` processes in a copy of the examples folder."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "sagas"


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    for name in ("provision-vm.saga.yaml", "vm-web1.json", "vm-web2-hypervisor-down.json"):
        shutil.copy(EXAMPLES / name, tmp_path / name)
    shutil.copy(EXAMPLES / "provision.py", tmp_path / "provision.py")
    return tmp_path


def cadenza(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "CADENZA_STORE"}
    return subprocess.run(
        [sys.executable, "-m", "cadenza", *args],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def files(folder: Path) -> set[str]:
    cloud = folder / "cloud"
    return {str(p.relative_to(cloud)) for p in cloud.rglob("*") if p.is_file()}


@pytest.mark.slow
def test_the_yaml_saga_succeeds_unwinds_and_is_repaired_by_an_operator(folder: Path) -> None:
    done = cadenza(folder, "run", "provision-vm.saga.yaml", "--input-file", "vm-web1.json")
    assert done.returncode == 0, done.stderr
    web1 = {"ips/web1", "disks/web1", "disks/web1.attached", "instances/web1"}
    assert files(folder) == web1

    done = cadenza(
        folder, "run", "provision-vm.saga.yaml", "--input-file", "vm-web2-hypervisor-down.json"
    )
    assert done.returncode == 1, done.stderr
    assert "failed    boot  (exit 1: hypervisor is down)" in done.stderr
    assert "succeeded undo allocate_ip" in done.stderr
    assert files(folder) == web1

    (folder / "cloud" / "disks" / "LOCKED").touch()
    done = cadenza(
        folder,
        "run",
        "provision-vm.saga.yaml",
        "--input-file",
        "vm-web2-hypervisor-down.json",
        "--json",
    )
    assert done.returncode == 3, done.stderr
    execution_id = json.loads(done.stdout)["execution_id"]
    assert files(folder) == web1 | {"ips/web2", "disks/web2", "disks/LOCKED"}
    listed = cadenza(folder, "ps", "--needs-attention")
    assert execution_id in listed.stdout and "stuck" in listed.stdout
    status = cadenza(folder, "status", execution_id, "--json")
    tasks = {t["name"]: t["status"] for t in json.loads(status.stdout)["tasks"]}
    assert tasks == {
        "allocate_ip": "done",
        "create_disk": "stuck",
        "create_instance": "undone",
        "attach_disk": "undone",
        "boot": "failed",
    }

    (folder / "cloud" / "disks" / "LOCKED").unlink()
    done = cadenza(
        folder, "request", execution_id, "retry-undo", "--reason", "unlocked", "--by", "ops"
    )
    assert done.returncode == 0, done.stderr
    done = cadenza(folder, "worker", "--exit-when-idle")
    assert done.returncode == 0, done.stderr
    status = cadenza(folder, "status", execution_id, "--json")
    assert json.loads(status.stdout)["status"] == "failed"
    assert files(folder) == web1
    log = json.loads(cadenza(folder, "history", execution_id, "--view", "saga-log").stdout)
    assert [e["event"] for e in log if e["node"] == "create_disk"] == [
        "started",
        "succeeded",
        "undo_started",
        "undo_failed",
        "undo_started",
        "undo_failed",
        "undo_started",
        "undo_failed",
        "undo_started",
        "undo_finished",
    ]


@pytest.mark.slow
def test_the_python_saga_runs_its_three_scenarios(folder: Path) -> None:
    done = subprocess.run(
        [sys.executable, "provision.py"],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    runs = done.stdout.split("\n  saga ")
    assert runs[1].split("\n")[0].endswith(": succeeded")
    assert runs[2].split("\n")[0].endswith(": failed")
    assert "error: the action of 'boot' failed: hypervisor for web2 is down" in runs[2]
    assert runs[3].split("\n")[0].endswith(": stuck")
    assert "stuck     create_disk" in runs[3]
    assert runs[4].split("\n")[0].endswith(": failed")
    cloud = json.loads((folder / "cloud.json").read_text())
    assert set(cloud["ips"]) == {"web1"} and set(cloud["instances"]) == {"web1"}
    assert set(cloud["disks"]) == {"web1-root"}
