"""The role matrix over both surfaces from one table (issue 17): every role against every REST
route and every panel event of a real `python app.py` (uvicorn + Gradio) on loopback. What each
role may do comes from copilot.access alone; a route or event missing from its tables fails here."""

import json
import os
import subprocess
import sys

import pytest

from copilot import access
from copilot.access import ACTIONS, PANEL, ROLES, ROUTES

pytestmark = [pytest.mark.integration, pytest.mark.slow]

# a harmless request per REST route (allowed roles get a 2xx/4xx that is not 401/403)
REST_SAMPLE = {
    ("POST", "/v1/search"): {"json": {"query": "送料"}},
    ("POST", "/v1/drafts"): {"json": {"text": "送料はいくらですか"}},
    ("GET", "/v1/drafts"): {"params": {"status": "pending"}},
    ("GET", "/v1/drafts/{draft_id}"): {},
    ("POST", "/v1/drafts/{draft_id}/approve"): {"json": {}},
    ("POST", "/v1/drafts/{draft_id}/reject"): {"json": {"reason": "wrong"}},
    ("GET", "/v1/tickets"): {},
    ("POST", "/v1/tickets/{ticket_id}/messages"): {"json": {"sender": "customer", "text": "まだですか？"}},
    ("POST", "/v1/tickets/{ticket_id}/drafts"): {"json": {}},
    ("POST", "/v1/tickets/{ticket_id}/status"): {"json": {"status": "pending"}},
    ("GET", "/v1/customers"): {},
    ("GET", "/v1/customers/{customer_id}/summary"): {},
    ("POST", "/v1/customers/{customer_id}/tickets"): {"json": {"subject": "s", "text": "t"}},
    ("POST", "/v1/knowledge/reindex"): {"json": {}},
    ("GET", "/v1/knowledge/status"): {},
    ("GET", "/v1/knowledge/documents"): {},
    ("POST", "/v1/knowledge/documents"): {"files": {"file": ("x.md", b"# x\n\ny\n")}},
    ("DELETE", "/v1/knowledge/documents"): {"params": {"path": "manuals/nope.md"}},
    ("POST", "/v1/evals/runs"): {"json": {"dataset": "evals/missing.yaml"}},
    ("GET", "/v1/evals/runs"): {},
    ("GET", "/v1/evals/runs/{run_id}"): {},
}

# a harmless input per panel event (allowed roles get a result or a validation message)
PANEL_SAMPLE = {
    "inbox": [],
    "open_ticket": ["T-404 · x"],
    "draft": ["", "", "", ""],
    "approve": ["", ""],
    "reject": ["", None, ""],
    "documents": [],
    "upload": [None, "manuals"],
    "ask_delete": [None],
    "delete": [None],
    "reindex": [False],
    "gaps": [],
    "run_evals": ["evals/missing.yaml"],
}


# What each role may do, written out here as the product's rules (not read from access.py), so a
# change to the policy table that grants or removes a right fails this test until it is meant.
EXPECTED = {
    "agent": {"search", "draft", "read_drafts", "decide", "customers", "write_tickets", "knowledge_status"},
    "helpdesk": {"search", "draft", "read_drafts", "decide", "customers", "write_tickets"},
    "editor": {"search", "knowledge_status", "list_documents", "edit_knowledge", "reindex", "knowledge_gaps"},
    "qa": {"search", "read_drafts", "knowledge_status", "list_documents", "run_evals", "read_evals"},
    "admin": set(ACTIONS),
}


def test_the_policy_is_the_expected_one():
    assert {role: {a for a in ACTIONS if access.allowed(role, a)} for role in ROLES} == EXPECTED


def test_the_tables_cover_each_other():
    assert set(REST_SAMPLE) == set(ROUTES)
    assert set(PANEL_SAMPLE) == set(PANEL)
    assert set(ROUTES.values()) | set(PANEL.values()) <= set(ACTIONS)
    for roles, what in ACTIONS.values():
        assert roles <= set(ROLES) and what


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    from conftest import ROOT, _free_port, wait_until_up

    base = tmp_path_factory.mktemp("access")
    from conftest import small_api_copilot

    c, kb = small_api_copilot(base)
    env = dict(os.environ, COPILOT_DATA_DIR=str(base / "data"), COPILOT_KNOWLEDGE_DIR=str(kb), COPILOT_SECONDARY_EMBEDDER="",
               COPILOT_RATE_LIMIT_PER_MINUTE="1000")

    def key(role):
        p = subprocess.run([sys.executable, "-m", "copilot", "keys", "create", "--role", role, "--name", f"{role}-matrix", "--json"],
                           env=env, capture_output=True, text=True, timeout=120, check=True)
        return json.loads(p.stdout)["key"]

    keys = {role: key(role) for role in ROLES}
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "app.py", "--port", str(port)], env=env, cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    wait_until_up(url + "/healthz", proc, "server did not start", timeout=120)
    yield url, keys
    proc.terminate()
    proc.wait(timeout=30)


def panel_call(client, name: str, data: list) -> tuple[str, str]:
    """One panel event through Gradio's HTTP API as the browser's session: (event, payload)."""
    r = client.post(f"/ui/gradio_api/call/{name}", json={"data": data})
    assert r.status_code == 200, (name, r.status_code, r.text[:300])
    stream = client.get(f"/ui/gradio_api/call/{name}/{r.json()['event_id']}").text
    events = [line[7:] for line in stream.splitlines() if line.startswith("event: ")]
    datas = [line[6:] for line in stream.splitlines() if line.startswith("data: ")]
    return events[-1], datas[-1]


@pytest.mark.parametrize("role", ROLES)
def test_every_role_through_rest_and_panel(server, role):
    import httpx

    url, keys = server
    forbidden_seen = allowed_seen = 0
    with httpx.Client(base_url=url, timeout=300) as rest:
        for (method, path), action in ROUTES.items():
            target = path.format(draft_id="d_missing", customer_id="C-1001", ticket_id="T-5003", run_id="eval_missing")
            r = rest.request(method, target, headers={"Authorization": f"Bearer {keys[role]}"}, **REST_SAMPLE[(method, path)])
            if action in EXPECTED[role]:
                assert r.status_code not in (401, 403) and r.status_code < 500, (role, method, path, r.status_code, r.text)
                allowed_seen += 1
            else:
                assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden", (role, method, path, r.text)
                forbidden_seen += 1
            for bad in ({}, {"Authorization": "Bearer cp_admin_wrong"}, {"X-API-Key": "nope"}):
                r = rest.request(method, target, headers=bad, **REST_SAMPLE[(method, path)])
                assert r.status_code == 401 and r.json()["error"]["code"] == "unauthorized", (method, path, bad)

    with httpx.Client(base_url=url, timeout=300) as ui:
        assert ui.post("/ui/login", data={"username": f"matrix-{role}", "password": "cp_admin_wrong"}).status_code != 200
        assert ui.post("/ui/login", data={"username": f"matrix-{role}", "password": keys[role]}).status_code == 200
        config = ui.get("/ui/config").json()
        names = {d.get("api_name") for d in config["dependencies"] if d.get("api_visibility") != "private"}
        assert names == set(PANEL), "every panel event with an API name is in access.PANEL, and only those"
        for name, action in PANEL.items():
            event, payload = panel_call(ui, name, PANEL_SAMPLE[name])
            if action in EXPECTED[role]:
                # a result, or the handler's own message about the sample input (never an unexplained failure)
                message = json.loads(payload).get("error") if event == "error" else None
                assert event == "complete" or (message and "may not" not in message), (role, name, event, payload)
                allowed_seen += 1
            else:
                assert event == "error" and f"role {role} may not" in payload, (role, name, event, payload)
                forbidden_seen += 1
    # every role is allowed something and, but for admin, refused something
    assert allowed_seen and (forbidden_seen or role == "admin")


def test_the_panel_shows_each_role_only_its_tabs():
    """The tab visibility rule, from the same table (the browser tests see it rendered)."""
    assert [t for t in access.TABS if access.tab_visible("agent", t)] == ["agent"]
    assert [t for t in access.TABS if access.tab_visible("qa", t)] == ["knowledge", "qa"]
    assert [t for t in access.TABS if access.tab_visible("editor", t)] == ["knowledge"]
    assert [t for t in access.TABS if access.tab_visible(None, t)] == []


def test_a_name_signed_in_with_one_key_cannot_take_another(server):
    import httpx

    url, keys = server
    with httpx.Client(base_url=url, timeout=60) as a, httpx.Client(base_url=url, timeout=60) as b:
        assert a.post("/ui/login", data={"username": "shared-name", "password": keys["agent"]}).status_code == 200
        assert b.post("/ui/login", data={"username": "shared-name", "password": keys["admin"]}).status_code != 200
        event, payload = panel_call(a, "documents", [])
        assert event == "error" and "role agent may not" in payload  # still the agent's role


@pytest.mark.parametrize("path", ["evals/cases.yaml", "cases.yaml"])
def test_eval_datasets_inside_evals_are_accepted(path):
    from conftest import ROOT

    assert access.eval_dataset(path, ROOT / "evals").name == "cases.yaml"


@pytest.mark.parametrize("path", ["/etc/passwd", "../pyproject.toml", "evals/../pyproject.toml", "evals/nope.yaml", "", "a\x00b"])
def test_eval_datasets_outside_evals_are_refused(path):
    from copilot.errors import InputError

    from conftest import ROOT

    with pytest.raises(InputError):
        access.eval_dataset(path, ROOT / "evals")
