"""Fuzz /api/v1 with schemathesis from its own OpenAPI document: generated paths, queries and
bodies, as a reviewer (a token: every call may act) on the small bank. No call may answer
500, and every answer must match the document (status documented, body of its schema)."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from sqlalchemy import Engine

from auditor.config import Settings
from auditor.db.session import session_scope
from auditor.serve.accounts import issue_api_token
from auditor.serve.app import ServeOptions, create_app


@pytest.fixture
def api_schema(settings: Settings, bank: Engine):  # type: ignore[no-untyped-def]
    with session_scope(bank) as s:
        token = issue_api_token(s, "rita")
    app = create_app(settings, bank, ServeOptions(secure_cookies=False))
    schema = schemathesis.openapi.from_asgi("/api/v1/openapi.json", app)
    schema.config.headers = {"Authorization": f"Bearer {token}"}
    return schema


# Every operation of the document (schemathesis' own pytest loader does not run on this
# pytest; each operation's strategy is drawn from directly instead).
OPERATIONS = [
    (path, method.upper())
    for path, ops in __import__("auditor.serve.api", fromlist=["OPENAPI"]).OPENAPI["paths"].items()
    for method in ops
]


@pytest.mark.parametrize(("path", "method"), OPERATIONS)
def test_api_never_fails_and_keeps_its_document(api_schema, path: str, method: str) -> None:  # type: ignore[no-untyped-def]
    operation = api_schema[path][method]

    @given(case=operation.as_strategy())
    @settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
    def run(case) -> None:  # type: ignore[no-untyped-def]
        response = case.call()
        assert response.status_code < 500, (case.method, case.formatted_path, response.status_code)
        case.validate_response(response)

    run()
