"""SigV4 on the Step Functions endpoint: boto3 with the right secret gets in,
with a wrong one it gets AWS's errors; a real server process each time."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from cadenza.api.aws_signature import credentials_from_environment, load_credentials
from cadenza.model.errors import InputError

from .test_http_api import Server, start_server

KEY_ID = "AKIDCADENZATEST"
SECRET = "right-secret-for-tests"
PASS = json.dumps({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}})
ROLE = "arn:aws:iam::111111111111:role/anything"


def client_for(server: Server, key_id: str = KEY_ID, secret: str = SECRET) -> Any:
    return boto3.client(
        "stepfunctions",
        endpoint_url=server.url,
        region_name="eu-west-1",
        aws_access_key_id=key_id,
        aws_secret_access_key=secret,
        config=Config(retries={"max_attempts": 1}),
    )


def error_code(call: Any) -> str:
    with pytest.raises(ClientError) as caught:
        call()
    code: str = caught.value.response["Error"]["Code"]
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    return code


@pytest.fixture
def signed_server(tmp_path: Path) -> Iterator[Server]:
    running = start_server(
        f"sqlite:///{tmp_path / 'cadenza.db'}",
        tmp_path,
        extra_env={
            "CADENZA_AWS_ACCESS_KEY_ID": KEY_ID,
            "CADENZA_AWS_SECRET_ACCESS_KEY": SECRET,
        },
    )
    yield running
    running.stop()


def test_the_right_secret_gets_in_and_a_wrong_one_does_not(signed_server: Server) -> None:
    right = client_for(signed_server)
    right.create_state_machine(name="p", definition=PASS, roleArn=ROLE)
    assert [m["name"] for m in right.list_state_machines()["stateMachines"]] == ["p"]
    wrong = client_for(signed_server, secret="wrong-secret")
    assert error_code(wrong.list_state_machines) == "InvalidSignatureException"
    stranger = client_for(signed_server, key_id="AKIDSTRANGER")
    assert error_code(stranger.list_state_machines) == "UnrecognizedClientException"
    # Nothing a refused client asked for happened.
    with pytest.raises(ClientError):
        wrong.create_state_machine(name="q", definition=PASS, roleArn=ROLE)
    assert [m["name"] for m in right.list_state_machines()["stateMachines"]] == ["p"]


def test_an_unsigned_or_altered_request_is_refused(signed_server: Server) -> None:
    target = {"x-amz-target": "AWSStepFunctions.ListStateMachines"}
    headers = {**target, "content-type": "application/x-amz-json-1.0"}
    unsigned = httpx.post(signed_server.url + "/", headers=headers, content=b"{}")
    assert unsigned.status_code == 403
    assert unsigned.json()["__type"] == "MissingAuthenticationTokenException"
    # A request signed by botocore whose body was changed on the way.
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    signed = AWSRequest(method="POST", url=signed_server.url + "/", data=b"{}", headers=headers)
    SigV4Auth(Credentials(KEY_ID, SECRET), "states", "us-east-1").add_auth(signed)
    sent = dict(signed.headers.items())
    good = httpx.post(signed_server.url + "/", headers=sent, content=b"{}")
    assert good.status_code == 200, good.text
    altered = httpx.post(signed_server.url + "/", headers=sent, content=b'{"maxResults": 1}')
    assert altered.status_code == 403
    assert altered.json()["__type"] == "InvalidSignatureException"
    garbled = {**sent, "Authorization": "AWS4-HMAC-SHA256 Credential=x"}
    refused = httpx.post(signed_server.url + "/", headers=garbled, content=b"{}")
    assert refused.json()["__type"] == "IncompleteSignatureException"


def test_credentials_come_from_a_file_and_do_not_need_a_bearer_token(tmp_path: Path) -> None:
    credentials = tmp_path / "credentials"
    credentials.write_text(
        f"[default]\naws_access_key_id = {KEY_ID}\naws_secret_access_key = {SECRET}\n"
    )
    # Served beyond loopback: the REST API needs the bearer token, while Step
    # Functions clients authenticate with their signature.
    running = start_server(
        f"sqlite:///{tmp_path / 'cadenza.db'}",
        tmp_path,
        bind="0.0.0.0:0",
        token="bearer-token-for-tests",
        extra_env={"CADENZA_AWS_CREDENTIALS_FILE": str(credentials)},
    )
    try:
        assert httpx.get(f"{running.url}/v1/executions").status_code == 401
        assert client_for(running).list_state_machines()["stateMachines"] == []
        wrong = client_for(running, secret="nope")
        assert error_code(wrong.list_state_machines) == "InvalidSignatureException"
    finally:
        running.stop()


def test_without_credentials_other_machines_get_no_step_functions(tmp_path: Path) -> None:
    running = start_server(
        f"sqlite:///{tmp_path / 'cadenza.db'}",
        tmp_path,
        bind="0.0.0.0:0",
        token="bearer-token-for-tests",
    )
    try:
        code = error_code(client_for(running).list_state_machines)
        assert code == "UnrecognizedClientException"
    finally:
        running.stop()


def test_without_credentials_loopback_takes_any_signature(tmp_path: Path) -> None:
    running = start_server(f"sqlite:///{tmp_path / 'cadenza.db'}", tmp_path)
    try:
        anyone = client_for(running, key_id="whoever", secret="whatever")
        assert anyone.list_state_machines()["stateMachines"] == []
    finally:
        running.stop()


def test_credential_sources_are_read_and_checked(tmp_path: Path) -> None:
    pairs = tmp_path / "pairs"
    pairs.write_text("# comment\nAKID1 secret1\n\nAKID2 secret2\n")
    assert load_credentials(str(pairs)) == {"AKID1": "secret1", "AKID2": "secret2"}
    bad = tmp_path / "bad"
    bad.write_text("AKID1 secret1 extra\n")
    with pytest.raises(InputError, match="line 1") as caught:
        load_credentials(str(bad))
    assert "secret1" not in caught.value.message
    with pytest.raises(InputError, match="cannot read"):
        load_credentials(str(tmp_path / "missing"))
    assert credentials_from_environment({}) is None
    assert credentials_from_environment(
        {"CADENZA_AWS_ACCESS_KEY_ID": "K", "CADENZA_AWS_SECRET_ACCESS_KEY": "S"}
    ) == {"K": "S"}
    with pytest.raises(InputError, match="both"):
        credentials_from_environment({"CADENZA_AWS_ACCESS_KEY_ID": "K"})


def test_the_aws_credentials_option_names_the_file(tmp_path: Path) -> None:
    credentials = tmp_path / "sfn-credentials"
    credentials.write_text(
        f"[default]\naws_access_key_id = {KEY_ID}\naws_secret_access_key = {SECRET}\n"
    )
    running = start_server(
        f"sqlite:///{tmp_path / 'cadenza.db'}",
        tmp_path,
        "--aws-credentials",
        str(credentials),
    )
    try:
        assert client_for(running).list_state_machines()["stateMachines"] == []
        wrong = client_for(running, secret="nope")
        assert error_code(wrong.list_state_machines) == "InvalidSignatureException"
    finally:
        running.stop()
