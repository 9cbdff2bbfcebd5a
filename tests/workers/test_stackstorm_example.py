"""The StackStorm example pack end to end: a datastore value read at the start, the
approval, the subworkflow, and the deploy step over SSH to a real sshd."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest

from cadenza.cli.main import main

from .test_core_remote import SSHServer, sshd  # noqa: F401 - the sshd fixture

PACK = Path(__file__).resolve().parents[2] / "examples" / "stackstorm" / "release"
RELEASE = PACK / "actions" / "workflows" / "release.yaml"


def test_the_example_release_reads_the_datastore_and_deploys_over_ssh(
    sshd: SSHServer,  # noqa: F811 - the fixture imported above
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    store = f"sqlite:///{tmp_path / 'c.db'}"
    common = ["--store", store, "--pack", str(PACK)]
    kv = ["kv", "set", "release.mirror", "--store", store]
    assert main([*kv, "https://mirror.example.org"]) == 0
    capsys.readouterr()
    given = {
        "version": "2.0.0",
        "hosts": f"127.0.0.1:{sshd.port}",
        "ssh_user": sshd.username,
        "ssh_key": str(sshd.key_path),
    }
    code = main(["run", *common, "--quiet", "--json", str(RELEASE), "--input", json.dumps(given)])
    assert code == 3
    execution = json.loads(capsys.readouterr().out)["execution_id"]
    # A value changed after the start is not what this execution reads.
    assert main([*kv, "https://other.example.org"]) == 0
    answer = ["respond", *common, "--no-wait", execution, "approve", "--result"]
    assert main([*answer, '{"approved": true}']) == 0
    assert main(["worker", *common, "--exit-when-idle"]) == 0
    capsys.readouterr()
    assert main(["status", "--store", store, "--json", execution]) == 0
    status = json.loads(capsys.readouterr().out)
    assert status["status"] == "succeeded", status["errors"]
    output = status["output"]
    assert output["mirror"] == "https://mirror.example.org"
    assert output["deployed"] == [f"demo-v2.0.0-linux.tar.gz deployed on {socket.gethostname()}"]
    assert output["announced"].startswith("to #releases: demo-v2.0.0-linux.tar.gz")
