"""Customer isolation through the REST API: a canary fact added to customer A's history never
shows in B's summary or in a draft made for B, over many random pairs."""

import random

import pytest
from fastapi.testclient import TestClient

from copilot.auth import new_key

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture(scope="module")
def api(tmp_path_factory):
    from conftest import small_api_copilot

    from copilot.api import create_app

    c, _kb = small_api_copilot(tmp_path_factory.mktemp("iso"), rate_limit_per_minute=1_000_000)
    kid, key, h = new_key("agent")
    c.store.add_api_key(kid, h, "agent", "iso", "test")
    return c, TestClient(create_app(c)), {"Authorization": f"Bearer {key}"}


def test_canaries_never_cross_customers(api):
    c, client, hdr = api
    customers = [x.customer_id for x in c.store.list_customers()]
    assert len(customers) >= 3
    rng = random.Random(2026)
    pairs = 30
    for i in range(pairs):
        a, b = rng.sample(customers, 2)
        canary = f"KANARIA{rng.randrange(10**8):08d}"
        r = client.post(f"/v1/customers/{a}/tickets", headers=hdr,
                        json={"subject": f"再起動済み {canary}", "text": f"ハブを再起動しましたが直りません。メモ: {canary}"})
        assert r.status_code in (200, 201), r.text
        sa = client.get(f"/v1/customers/{a}/summary", headers=hdr)
        sb = client.get(f"/v1/customers/{b}/summary", headers=hdr)
        assert sa.status_code == 200 and sb.status_code == 200
        assert canary in sa.text and canary not in sb.text, (a, b)
        d = client.post("/v1/drafts", headers=hdr, json={"text": "E-203が出てつながりません", "customer_id": b})
        assert d.status_code == 201, d.text
        assert canary not in d.text
