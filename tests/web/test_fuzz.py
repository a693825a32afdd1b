"""Property-based fuzzing of the API from its OpenAPI schema (schemathesis): bad input gets 4xx, never 5xx.

The app runs over a copy of the analysed store with ``workers=0`` (submitted jobs are queued, never run), so
the fuzzer can post seeds, imports and clinical files without starting analyses. Bounded: a few dozen examples
per operation, < 60 s in all.
"""

from __future__ import annotations

import pytest

schemathesis = pytest.importorskip("schemathesis")
from hypothesis import HealthCheck, settings  # noqa: E402

from tests.web.conftest import TOKEN  # noqa: E402

AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture()
def fuzz_app(web_settings):
    from dataclasses import replace

    from radnec.web.app import create_app

    return create_app(replace(web_settings, workers=0, max_upload_mb=1))


@pytest.fixture()
def fuzz_schema(fuzz_app):
    return schemathesis.openapi.from_asgi("/openapi.json", fuzz_app, headers=AUTH)


@pytest.mark.slow
def test_no_server_errors(fuzz_schema):
    from hypothesis import given

    checked = 0
    seen: dict[int, int] = {}
    for result in fuzz_schema.get_all_operations():
        operation = result.ok()

        @settings(max_examples=20, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True, database=None)
        @given(case=operation.as_strategy())
        def run(case) -> None:
            response = case.call(headers=AUTH)
            seen[response.status_code // 100] = seen.get(response.status_code // 100, 0) + 1
            assert response.status_code < 500, (
                f"{case.method} {case.formatted_path} → {response.status_code}: {response.text[:300]}")

        run()
        checked += 1
    assert checked >= 15, f"only {checked} operations in the schema"
    assert seen.get(2, 0) > 20 and seen.get(4, 0) > 20, f"responses by class: {seen}"  # it reached the handlers
    print(f"schemathesis: {checked} operations, responses by class {seen}")
