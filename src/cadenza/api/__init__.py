"""The HTTP API that ``cadenza server`` serves, next to its engine loop.

``models``
    the request and response bodies (pydantic); the OpenAPI document at
    ``/openapi.json`` is generated from them.
``routes``
    the REST endpoints over one ``Engine``.
``workers``
    the endpoints for workers in any language: long-poll claims, heartbeats,
    completions and failures.
``stepfunctions``
    the Step Functions API (AWS JSON 1.0 on ``POST /``) for boto3 and the
    AWS CLI: state machines and executions; ``stepfunctions_activities`` the
    activities and their task tokens; ``stepfunctions_test_state`` TestState.
``aws_protocol``
    AWS's JSON 1.0 protocol: errors in AWS's shape, ARNs, pages.
``aws_catalog``
    state machine types and deletions, and activities, kept in the store.
``aws_signature``
    SigV4 signatures of Step Functions requests, checked with botocore's signer.
``metrics``
    Prometheus metrics at ``/metrics``: counts from the store, latencies of
    this process.
``errors``
    Cadenza errors and malformed requests as JSON 4xx answers.
``limits``
    the request-size limit and the bearer-token check.
``server``
    runs the API (uvicorn) and the engine loop in one process.
"""

from __future__ import annotations
