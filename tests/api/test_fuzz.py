"""Schema-driven fuzzing of the JSON API with schemathesis, in process.

Schemathesis reads the OpenAPI document the app itself serves and, for every
operation, sends requests built from it: any examples in the schema, the coverage
cases at its constraints' edges, and random valid and invalid (negative) data.
Every answer must be free of server errors and must match the document: its
status code documented, its content type and body as declared.
"""

from __future__ import annotations

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from django.test import override_settings
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from programs.api import keys
from programs.catalogue import loader
from reliefmatch.wsgi import application

# The in-process WSGI client addresses the app as "localhost"; the test
# settings allow no host at import time and only "testserver" during tests.
LOCAL_CLIENT = override_settings(ALLOWED_HOSTS=["localhost", "testserver"])

with LOCAL_CLIENT:
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", application)

EXAMPLES_PER_OPERATION = 40
schema.config.phases.update(phases=["examples", "coverage", "fuzzing"])
schema.config.generation.update(
    modes=list(schemathesis.GenerationMode),  # valid and invalid (negative) data
    max_examples=EXAMPLES_PER_OPERATION,
    deterministic=True,
)

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@pytest.fixture(scope="module", autouse=True)
def local_client_host():
    with LOCAL_CLIENT:
        yield


@pytest.fixture(scope="module", autouse=True)
def keep_the_test_connection():
    """Calls go straight to the WSGI app, not through Django's test client, so
    do what that client does: keep request signals from closing the test's
    database connection in the middle of its transaction (PostgreSQL fails
    "Cannot open a new connection in an atomic block" otherwise)."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def api_key():
    """Load the shipped catalogue and make a bulk-screening key, once per operation.

    Hypothesis runs the test body once per generated request but a
    function-scoped fixture once per test, i.e. once per operation; that is
    what we want here: the catalogue and the key are set up once and every
    request only reads them (the key's last use and the rate-limit counters
    change, which no answer depends on under the test settings' high limits);
    pytest-django rolls it all back at the end of the test, so the shared test
    database stays as the other tests expect. Loading once per operation, not
    per request, keeps the run fast; hence the suppressed
    function_scoped_fixture health check.
    """
    loader.load_catalogue()
    _row, key = keys.api_key_create(name="schemathesis")
    return key


@pytest.mark.django_db
@schema.parametrize()
@settings(
    max_examples=EXAMPLES_PER_OPERATION,
    deadline=None,
    derandomize=True,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.filter_too_much,
    ],
)
def test_api_never_answers_5xx_and_always_matches_its_schema(case, api_key):
    # Operations that declare security (bulk screening) get a valid key.
    # Schemathesis still sends some requests without it on purpose (negative
    # "missing header" cases): the app must answer those as documented too.
    secured = "security" in case.operation.definition.raw
    headers = {"X-API-Key": api_key} if secured else None
    case.call_and_validate(headers=headers, checks=CHECKS)
