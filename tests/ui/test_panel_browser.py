"""The agent panel in a real headless Chromium (Debian's package, driven by Playwright), against
`python app.py` on loopback. Screenshots go to $COPILOT_SCREENSHOTS (docs/img for the README)
or a temp dir."""

import json
import os
import re
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
    from playwright.sync_api import expect

    page.goto(panel["url"] + "/ui/")
    page.get_by_label("username").fill(name)
    page.get_by_label("password").fill(panel["keys"][role])
    page.get_by_role("button", name="Login").click()
    expect(page.locator("#whoami")).to_contain_text(f"role {role}", timeout=60_000)


def pick(page, elem_id: str, text: str) -> None:
    """Choose the dropdown option that contains `text`."""
    box = page.locator(f"#{elem_id} input")
    box.click()
    box.fill(text)  # filters the list
    page.locator("[role=option]", has_text=text).first.click()


def options(page, elem_id: str) -> list[str]:
    from playwright.sync_api import expect

    box = page.locator(f"#{elem_id} input")
    box.click()
    expect(page.locator("[role=option]").first).to_be_visible()  # the list is open (never read empty)
    got = [o.inner_text() for o in page.locator("[role=option]").all()]
    page.keyboard.press("Escape")
    page.locator("#whoami").click()  # focus leaves the dropdown
    return got


def store(panel):
    from copilot import Copilot, Settings

    return Copilot(Settings(data_dir=panel["data"], knowledge_dir=panel["kb"])).store


def test_agent_day_conversation_draft_edit_approve_and_reject(page, panel):
    """Sign in, open a multi-message ticket, draft from the conversation, edit, approve: the
    ticket leaves the inbox. Then reject another draft, which needs a chosen reason."""
    from playwright.sync_api import expect

    login(page, panel, "sato", "agent")
    page.get_by_role("tab", name="Knowledge").click()
    expect(page.locator("#knowledge-off")).to_be_visible()  # an agent has no knowledge tools
    page.get_by_role("tab", name="Agent").click()
    assert any("T-5003 " in o for o in options(page, "inbox"))
    pick(page, "inbox", "T-5003")
    page.locator("#open-ticket").click()
    conv = page.locator("#conversation")
    expect(conv).to_contain_text("CR2032", timeout=30_000)  # the first customer message
    expect(conv.locator(".msg.agent").first).to_be_visible()  # the agent's reply, shown to read
    assert conv.locator(".msg").count() == 3
    expect(page.locator("#ticket-text textarea")).to_have_value(re.compile("^測ってみたら"))  # the latest message is the question
    expect(page.locator("#summary")).to_contain_text("T-5003")
    assert page.locator("#reject-reason input").input_value() == ""  # no reason is chosen for the agent
    page.locator("#draft-btn").click()
    expect(page.locator("#draft-id textarea")).not_to_have_value("", timeout=60_000)
    expect(page.locator("#banner")).to_contain_text("read with the earlier conversation")
    draft_id = page.locator("#draft-id textarea").input_value()
    expect(page.locator("#reply textarea")).to_have_value(re.compile("E-410"))  # answered in the light of the first message
    page.locator("#citations details summary").first.click()
    expect(page.locator("#citations .passage").first).to_be_visible()
    reply = page.locator("#reply textarea")
    edited = reply.input_value() + "\n担当：佐藤"
    reply.fill(edited)
    page.screenshot(path=str(panel["shots"] / "agent.png"), full_page=True)
    expect(page.get_by_role("button", name="Approve", exact=True)).to_be_visible()
    assert page.get_by_role("button", name="Approve and send").count() == 0  # nothing is sent from the panel
    page.locator("#approve-btn").click()
    expect(page.locator("#decision")).to_contain_text("Approved", timeout=30_000)
    left = options(page, "inbox")
    for _ in range(20):  # the inbox refresh follows the approval
        if not any("T-5003 " in o for o in left):
            break
        page.wait_for_timeout(250)
        left = options(page, "inbox")
    assert left and not any("T-5003 " in o for o in left), ("an approved ticket leaves the inbox", left)
    d = store(panel).get_draft(draft_id)
    assert d.status == "approved" and d.final_text == edited and d.decided_by == "sato" and "+担当：佐藤" in d.diff

    pick(page, "inbox", "T-5023")
    page.locator("#open-ticket").click()
    expect(page.locator("#conversation")).to_contain_text("追記です", timeout=30_000)
    page.locator("#draft-btn").click()
    expect(page.locator("#draft-id textarea")).not_to_have_value("", timeout=60_000)
    second = page.locator("#draft-id textarea").input_value()
    page.locator("#reject-btn").click()
    expect(page.get_by_text("choose a reason for the rejection").first).to_be_visible(timeout=30_000)
    assert store(panel).get_draft(second).status == "pending"
    pick(page, "reject-reason", "incomplete")
    expect(page.locator("#reject-reason input")).to_have_value("incomplete")
    page.locator("#reject-note textarea").fill("停電時の説明が必要")
    page.locator("#reject-btn").click()
    expect(page.locator("#decision")).to_contain_text("Rejected", timeout=30_000)
    page.screenshot(path=str(panel["shots"] / "reject.png"), full_page=True)
    d = store(panel).get_draft(second)
    assert d.status == "rejected" and d.reject_reason == "incomplete" and d.decided_by == "sato"
    left = options(page, "inbox")
    assert any("T-5023 · C-1010 · rejected" in o for o in left), ("a rejected draft leaves the ticket for an agent", left)


def test_editor_uploads_confirms_a_delete_and_reindexes(page, panel, tmp_path):
    from playwright.sync_api import expect

    login(page, panel, "tanaka", "editor")
    page.get_by_role("tab", name="Knowledge").click()
    expect(page.locator("#docs")).to_contain_text("faq/")
    doc = tmp_path / "lamp_colors.md"
    doc.write_text("# ランプの色\n\n## 緑の点灯\n\n緑の点灯は正常に動作していることを示します。\n", encoding="utf-8")
    page.locator("#upload input[type=file]").set_input_files(str(doc))
    page.wait_for_timeout(1000)
    page.locator("#upload-btn").click()
    status = page.locator("#knowledge-status")
    expect(status).to_contain_text("Uploaded manuals/lamp_colors.md", timeout=30_000)
    page.locator("#reindex-btn").click()
    expect(page.locator("#docs")).to_contain_text("faq/")  # the table stays while the index is built
    expect(status).to_contain_text("1 added", timeout=120_000)
    expect(page.locator("#docs")).to_contain_text("manuals/lamp_colors.md")
    page.screenshot(path=str(panel["shots"] / "knowledge.png"), full_page=True)

    pick(page, "delete-path", "lamp_colors")
    page.locator("#delete-btn").click()
    confirm = page.locator("#delete-confirm")
    expect(confirm).to_contain_text("manuals/lamp_colors.md", timeout=30_000)
    page.locator("#delete-cancel").click()
    expect(confirm).to_be_hidden()
    assert (panel["kb"] / "manuals" / "lamp_colors.md").exists(), "cancel keeps the file"
    page.locator("#delete-btn").click()
    expect(confirm).to_be_visible(timeout=30_000)
    page.screenshot(path=str(panel["shots"] / "delete.png"), full_page=True)
    page.locator("#delete-yes").click()
    expect(status).to_contain_text("Deleted manuals/lamp_colors.md", timeout=30_000)
    assert not (panel["kb"] / "manuals" / "lamp_colors.md").exists()
    page.locator("#reindex-btn").click()
    expect(status).to_contain_text("1 removed", timeout=120_000)
    expect(page.locator("#docs")).not_to_contain_text("lamp_colors")


def test_qa_runs_the_evals_and_opens_the_html_report(page, panel):
    from playwright.sync_api import expect

    login(page, panel, "suzuki", "qa")
    page.get_by_role("tab", name="Agent").click()
    expect(page.locator("#agent-off")).to_be_visible()  # QA drafts nothing
    page.get_by_role("tab", name="QA").click()
    page.locator("#run-evals").click()
    # while it runs: one progress indicator, on the status line, and the case counter moves
    expect(page.locator("#qa-status")).to_contain_text("case", timeout=60_000)  # "case 12/176"
    assert page.locator(".progress-text").count() == 1, "one progress bar, not one per output"
    page.screenshot(path=str(panel["shots"] / "qa-progress.png"))
    link = page.locator("#qa-status a#report-link")
    expect(link).to_be_visible(timeout=600_000)
    assert page.locator(".progress-text").count() == 0  # done: the bar is gone
    expect(page.locator("#qa-metrics")).to_contain_text("overall")
    assert page.locator("#qa-charts img").count() >= 2
    page.screenshot(path=str(panel["shots"] / "qa.png"), full_page=True)
    with page.context.expect_page() as new:
        link.click()
    report = new.value
    report.wait_for_load_state()
    expect(report).to_have_title("Eval report")
    expect(report.locator("body")).to_contain_text("Eval report")
    assert report.locator("img").count() >= 2
    report.screenshot(path=str(panel["shots"] / "report.png"))
    import httpx

    href = link.get_attribute("href")
    assert httpx.get(panel["url"] + href.replace("sig=", "sig=0")).status_code == 404  # the link is signed
