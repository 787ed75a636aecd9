"""A bounded schemathesis run against the app's own OpenAPI schema: bad input never gives a 500."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.core import NOT_SET

from todo_backend.api import create_app
from todo_backend.settings import Settings

MAX_EXAMPLES = 15
# Building the schema needs no database or network: only the routes.
OPERATIONS = [
    f"{method.upper()} {path}"
    for path, methods in create_app(Settings()).openapi()["paths"].items()
    for method in methods
]


@pytest.fixture(scope="session")
def api_schema(api):
    # From the app object: /openapi.json is only served with API_DOCS=1.
    return schemathesis.openapi.from_dict(api.app.openapi())


@pytest.mark.parametrize("label", OPERATIONS)
def test_no_server_errors(api, api_schema, make_user, label):
    operation = api_schema.find_operation_by_label(label)
    assert operation is not None
    user = make_user()
    strategy = st.one_of(
        operation.as_strategy(generation_mode=GenerationMode.POSITIVE),
        operation.as_strategy(generation_mode=GenerationMode.NEGATIVE),
    )

    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=strategy)
    def check(case) -> None:
        # Requests go to the caller's own paths, so generated data reaches validation and the
        # database instead of stopping at the 403 for a foreign user id.
        if "user_id" in (case.path_parameters or {}):
            case.path_parameters["user_id"] = user.id
        headers = {k: v for k, v in (case.headers or {}).items() if k.lower() != "authorization"}
        kwargs = {"params": case.query or None, "headers": {**headers, **user.headers}}
        if isinstance(case.body, bytes):  # negative mode: a raw, possibly non-JSON body
            kwargs["content"] = case.body
            kwargs["headers"]["content-type"] = case.media_type or "application/json"
        elif case.body is not NOT_SET:
            kwargs["json"] = case.body
        response = api.request(case.method, case.formatted_path, **kwargs)
        assert response.status_code < 500, (case.method, case.formatted_path, case.body, response.text)

    check()
