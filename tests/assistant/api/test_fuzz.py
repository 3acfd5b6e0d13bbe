"""A bounded schemathesis run against the real server's own OpenAPI document: whatever the generated
request, the answer is never a 5xx, always matches the documented status codes, content types and
schemas (OpenAI's error body included)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
import torch
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.assistant.api.helpers import LiveServer, new_workspace, runtime_factory, serve

EXAMPLES = 12
"""Per operation; enough to reach every field's edge cases (the coverage phase adds its own) in seconds."""


@pytest.fixture(autouse=True)
def subnormal_floats() -> None:
    """Opening a runtime turns on flush-to-zero in the opening thread (the runtime fixture does that in
    this one); hypothesis refuses to generate floats without subnormals."""
    torch.set_flush_denormal(False)


@pytest.fixture(scope="module")
def fuzzed_server(tmp_path_factory: pytest.TempPathFactory, tiny_checkpoint: Path) -> Iterator[LiveServer]:
    """A server of its own: the fuzzer saves, loads and forgets Titans memories."""
    workspace = new_workspace(tmp_path_factory, "fuzz")
    with serve(runtime_factory(workspace, tiny_checkpoint), workspace) as live:
        yield live


@pytest.fixture(scope="module")
def api_schema(fuzzed_server: LiveServer) -> schemathesis.BaseSchema:
    return schemathesis.openapi.from_url(f"{fuzzed_server.url}/openapi.json")


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_no_server_errors_and_documented_answers(case: schemathesis.Case) -> None:
    case.call_and_validate(checks=[not_a_server_error, status_code_conformance, content_type_conformance,
                                   response_schema_conformance], timeout=60)
