"""Schemathesis against the API's own OpenAPI schema: requests generated for every operation,
sent with an admin key, must never get a 5xx, and every error must have the documented shape
{"error": {"code", "message"}}; at least 1,000 requests in all."""

import shutil

import pytest
import schemathesis
# schemathesis loads these lazily, on the first from_asgi call; pytest assertion-rewrites them
# (schemathesis is a registered plugin) through ast.parse, which late in a full run on Python
# 3.11.7 twice failed with CPython's spurious "AST constructor recursion depth mismatch"
# (gh-106905, fixed in 3.11.8). Imported here, at collection, they never were.
import schemathesis.specs.openapi.schemas  # noqa: F401
from hypothesis import HealthCheck, given, settings

from copilot.auth import new_key

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SEEN = {"requests": 0, "by_status": {}}
EXAMPLES = 90


@pytest.fixture(scope="module")
def fuzz_env(tmp_path_factory):
    from conftest import ROOT, small_api_copilot

    from copilot.api import create_app

    base = tmp_path_factory.mktemp("fuzz")
    (base / "evals").mkdir()
    shutil.copy(ROOT / "evals" / "cases.yaml", base / "evals" / "cases.yaml")
    c, kb = small_api_copilot(base, rate_limit_per_minute=1_000_000)
    kid, key, h = new_key("admin")
    c.store.add_api_key(kid, h, "admin", "fuzz", "test")
    outside = base / "outside.txt"
    outside.write_text("must survive", encoding="utf-8")
    return {"app": create_app(c), "key": key, "outside": outside, "kb": kb}


def test_no_server_errors_and_every_error_has_the_shape(fuzz_env):
    # schemathesis' own pytest plugin does not run on pytest 9, so the operations are driven
    # through Hypothesis directly: one property per operation, the same generated cases
    schema = schemathesis.openapi.from_asgi("/openapi.json", fuzz_env["app"])
    operations = [r.ok() for r in schema.get_all_operations()]
    assert len(operations) >= 15
    failures = []
    for op in operations:
        @given(case=op.as_strategy())
        @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True, database=None)
        def prop(case):
            response = case.call(headers={"Authorization": f"Bearer {fuzz_env['key']}"})
            SEEN["requests"] += 1
            SEEN["by_status"][response.status_code] = SEEN["by_status"].get(response.status_code, 0) + 1
            assert response.status_code < 500, (case.method, case.path, response.text[:300])
            if response.status_code >= 400:
                body = response.json()
                assert set(body) == {"error"} and isinstance(body["error"].get("code"), str) \
                    and isinstance(body["error"].get("message"), str), body

        try:
            prop()
        except AssertionError as exc:
            failures.append(f"{op.label}: {str(exc)[:400]}")
    assert not failures, failures
    assert SEEN["requests"] >= 1000, SEEN
    assert fuzz_env["outside"].read_text(encoding="utf-8") == "must survive"
    assert (fuzz_env["kb"] / "faq" / "faq.csv").exists()
    print(f"\nschemathesis: {SEEN['requests']} requests over {len(operations)} operations, "
          f"by status {dict(sorted(SEEN['by_status'].items()))}")
