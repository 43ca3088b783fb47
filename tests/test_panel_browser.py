"""The agent panel in a real headless Chromium (Debian's package, driven by Playwright), against
`python app.py` on loopback. Screenshots go to $COPILOT_SCREENSHOTS (docs/img for the README)
or a temp dir."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import _free_port, wait_until_up

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.slow]
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="module")
def panel(tmp_path_factory):
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian's chromium is not installed (.ci/run installs it)")
    from conftest import KNOWLEDGE, ROOT

    base = tmp_path_factory.mktemp("panel")
    kb = base / "knowledge"
    shutil.copytree(KNOWLEDGE, kb)
    env = dict(os.environ, COPILOT_DATA_DIR=str(base / "data"), COPILOT_KNOWLEDGE_DIR=str(kb))

    def cli(*args):
        p = subprocess.run([sys.executable, "-m", "copilot", *args, "--json"], env=env, capture_output=True, text=True, timeout=600)
        assert p.returncode == 0, p.stderr
        return json.loads(p.stdout)

    cli("index")
    cli("customers", "import", str(ROOT / "samples" / "customers.jsonl"))
    keys = {role: cli("keys", "create", "--role", role, "--name", f"{role}-ui")["key"] for role in ("agent", "editor", "qa")}
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "app.py", "--port", str(port)], env=env, cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    wait_until_up(url + "/healthz", proc, "server did not start", timeout=120)
    shots = Path(os.environ.get("COPILOT_SCREENSHOTS") or base / "shots")
    shots.mkdir(parents=True, exist_ok=True)
    yield {"url": url, "keys": keys, "env": env, "kb": kb, "shots": shots, "data": base / "data"}
    proc.terminate()
    proc.wait(timeout=30)


@pytest.fixture
def page(panel):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        pg = browser.new_page(viewport={"width": 1366, "height": 900})  # laptop width
        yield pg
        browser.close()


def login(page, panel, name, role):
    page.goto(panel["url"] + "/ui/")
    page.get_by_label("username").fill(name)
    page.get_by_label("password").fill(panel["keys"][role])
    page.get_by_role("button", name="Login").click()
    page.wait_for_selector("#inbox", timeout=60_000)


def test_agent_drafts_edits_and_approves_a_japanese_ticket(page, panel):
    from playwright.sync_api import expect

    login(page, panel, "sato", "agent")
    box = page.locator("#inbox input")
    box.click()
    box.fill("T-5003")
    page.wait_for_timeout(300)
    page.keyboard.press("ArrowDown")
    page.keyboard.press("Enter")
    page.locator("#open-ticket").click()
    expect(page.locator("#ticket-text textarea")).to_have_value(__import__("re").compile("ハブ"), timeout=30_000)
    expect(page.locator("#summary")).to_contain_text("T-5003", timeout=30_000)  # the customer's history, cited
    page.locator("#draft-btn").click()
    expect(page.locator("#draft-id textarea")).not_to_have_value("", timeout=60_000)
    draft_id = page.locator("#draft-id textarea").input_value()
    expect(page.locator("#citations details").first).to_be_visible()
    page.locator("#citations details summary").first.click()
    expect(page.locator("#citations .passage").first).to_be_visible()
    reply = page.locator("#reply textarea")
    edited = reply.input_value() + "\n担当：佐藤"
    reply.fill(edited)
    page.screenshot(path=str(panel["shots"] / "agent.png"), full_page=True)
    page.locator("#approve-btn").click()
    expect(page.locator("#decision")).to_contain_text("Approved", timeout=30_000)

    from copilot import Copilot, Settings

    d = Copilot(Settings(data_dir=panel["data"], knowledge_dir=panel["kb"])).store.get_draft(draft_id)
    assert d.status == "approved" and d.final_text == edited and d.decided_by == "panel:sato" and "+担当：佐藤" in d.diff


def test_editor_uploads_and_reindexes(page, panel, tmp_path):
    from playwright.sync_api import expect

    login(page, panel, "tanaka", "editor")
    page.get_by_role("tab", name="Knowledge").click()
    doc = tmp_path / "lamp_colors.md"
    doc.write_text("# ランプの色\n\n## 緑の点灯\n\n緑の点灯は正常に動作していることを示します。\n", encoding="utf-8")
    page.locator("#upload input[type=file]").set_input_files(str(doc))
    page.wait_for_timeout(1000)
    page.locator("#upload-btn").click()
    expect(page.locator("#knowledge-status")).to_contain_text("Uploaded manuals/lamp_colors.md", timeout=30_000)
    page.locator("#reindex-btn").click()
    expect(page.locator("#knowledge-status")).to_contain_text("1 added", timeout=120_000)
    expect(page.locator("#docs")).to_contain_text("manuals/lamp_colors.md")
    page.screenshot(path=str(panel["shots"] / "knowledge.png"), full_page=True)


def test_qa_runs_the_evals_and_sees_the_report(page, panel):
    from playwright.sync_api import expect

    login(page, panel, "suzuki", "qa")
    page.get_by_role("tab", name="QA").click()
    page.locator("#run-evals").click()
    expect(page.locator("#qa-status")).to_contain_text("report:", timeout=300_000)
    expect(page.locator("#qa-metrics")).to_contain_text("overall")
    assert page.locator("#qa-charts img").count() >= 2
    page.screenshot(path=str(panel["shots"] / "qa.png"), full_page=True)


def test_roles_are_enforced_in_the_panel(page, panel):
    from playwright.sync_api import expect

    login(page, panel, "yamada", "qa")
    page.locator("#ticket-text textarea").fill("送料はいくらですか")
    page.locator("#draft-btn").click()
    expect(page.get_by_text("may not use the agent tab").first).to_be_visible(timeout=30_000)
