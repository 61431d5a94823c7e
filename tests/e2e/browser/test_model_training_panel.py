"""The Model Training panel in a real browser: fast-forward a pending phase (pre-queued) and a
running one, watch the states change without a reload, read the stop reasons in the
timeline, follow a stop made from the CLI, and cancel a generator through the confirmation."""

import getpass
import re
import subprocess
import sys

from playwright.sync_api import Page, expect

from tests.integration.workers.conftest import wait_until

TABULAR, CUSTOMERS, ORDERS = "tabular", "text:customers", "text:orders"


COUNT_OUTPUTS_REPLACED_UNCHANGED = """() => {
  window.__outputsReplacedUnchanged = 0;
  const html = (nodes) => [...nodes].map((n) => n.outerHTML).join("");
  new MutationObserver((records) => {
    for (const r of records) {
      if (r.removedNodes.length && html(r.removedNodes) === html(r.addedNodes)) {
        window.__outputsReplacedUnchanged += 1;
      }
    }
  }).observe(document.getElementById("outputs"), { childList: true });
}"""


def row(page: Page, phase: str):
    return page.locator(f'tr[data-phase="{phase}"]')


def fast_forward(page: Page, phase: str):
    return page.get_by_role("button", name=f"Stop training phase {phase}", exact=True)


def elapsed_s(page: Page, phase: str) -> float:
    text = row(page, phase).locator("td.elapsed").inner_text()
    match = re.match(r"([\d.]+) s", text)
    assert match, text
    return float(match.group(1))


def quiet(page: Page) -> None:
    """No notice floating over the page (before a screenshot)."""
    expect(page.locator("#toast")).not_to_have_class(re.compile(r"\bshow\b"), timeout=10_000)


def tab_to(page: Page, label: str, presses: int = 40) -> None:
    """Move the keyboard focus with Tab until the element named `label` has it."""
    for _ in range(presses):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.getAttribute('aria-label')") == label:
            return
    raise AssertionError(f"{label!r} cannot be reached with the keyboard")


def test_fast_forward_pending_and_running_phases_live(web, page: Page, long_spec, artifacts):
    gid = web.create(long_spec)
    page.goto(f"{web.url}/generators/{gid}")
    page.evaluate("window.__notReloaded = true")
    page.evaluate(COUNT_OUTPUTS_REPLACED_UNCHANGED)
    expect(page.get_by_role("heading", name="Model Training")).to_be_visible()
    expect(row(page, TABULAR)).to_have_attribute("data-state", "running")
    expect(page.locator("#live")).to_have_text("Live")

    # Every phase has its fast-forward button, on the left of its row, while pending or running.
    for phase in (TABULAR, CUSTOMERS, ORDERS):
        expect(fast_forward(page, phase)).to_be_enabled()
        assert row(page, phase).locator("td").first.locator("button.ff").count() == 1
    assert (
        fast_forward(page, TABULAR).bounding_box()["x"]
        < row(page, TABULAR).locator(".phase-title").bounding_box()["x"]
    )

    # Pre-queue: the pending text phase accepts the stop at once, and says so.
    fast_forward(page, CUSTOMERS).click()
    expect(row(page, CUSTOMERS)).to_contain_text("Stop queued: applied when the phase begins")
    expect(row(page, CUSTOMERS)).to_have_attribute("data-state", "pending")
    expect(fast_forward(page, CUSTOMERS)).to_be_disabled()
    expect(fast_forward(page, ORDERS)).to_be_enabled()  # stopping one does not touch the others
    expect(row(page, TABULAR)).to_have_attribute("data-state", "running")

    # The running phase keeps showing its elapsed time, ticking between updates.
    before = elapsed_s(page, TABULAR)
    wait_until(lambda: elapsed_s(page, TABULAR) > before, 30, "the elapsed time to tick")
    expect(row(page, TABULAR).locator(".epochs")).not_to_have_text(re.compile(r"^0 /"))
    quiet(page)
    page.screenshot(path=str(artifacts / "model-training-prequeued.png"), full_page=True)

    # Fast-forward the running tabular phase, with the keyboard this time.
    tab_to(page, f"Stop training phase {TABULAR}")
    page.keyboard.press("Enter")
    expect(row(page, TABULAR).locator(".phase-name")).to_be_focused()  # not the page's start
    expect(row(page, TABULAR)).to_have_attribute("data-state", "succeeded")
    expect(row(page, TABULAR)).to_contain_text("Manually stopped")
    # The pre-queued stop lands as soon as that phase begins; the next one trains on.
    expect(row(page, CUSTOMERS)).to_have_attribute("data-state", "succeeded")
    expect(row(page, CUSTOMERS)).to_contain_text("Manually stopped")
    expect(row(page, ORDERS)).to_have_attribute("data-state", "running")
    expect(page.locator("#gen-state")).to_have_text("Running")
    quiet(page)  # and meanwhile a few progress updates of the running phase
    screenshot = artifacts / "model-training-panel.png"
    page.screenshot(path=str(screenshot), full_page=True)

    # A stop made from the CLI, in another process, shows up on the page without a reload.
    cli = [sys.executable, "-m", "ffwd.adapters.cli", "stop", gid[:8], ORDERS]
    done = subprocess.run(
        [*cli, "--store", web.store, "--data", web.data],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr + done.stdout
    expect(row(page, ORDERS)).to_have_attribute("data-state", "succeeded")
    expect(row(page, ORDERS)).to_contain_text("Manually stopped")

    # The rest of the pipeline goes on: synthesis, report, and links to the outputs.
    expect(page.locator("#gen-state")).to_have_text("Succeeded", timeout=60_000)
    expect(page.locator('[data-step="synthesis"]')).to_contain_text("Succeeded")
    expect(page.locator('[data-step="report"]')).to_contain_text("Succeeded")
    report = page.get_by_role("link", name="Quality report (HTML)")
    expect(report).to_be_visible()
    for link in [report, page.get_by_role("link", name="Synthetic customers (CSV)")]:
        response = page.request.get(web.url + link.get_attribute("href"))
        assert response.status == 200

    # The timeline shows each phase as successful alongside its stop reason.
    timeline = page.locator("#timeline")
    succeeded = timeline.locator('[data-type="PhaseSucceeded"]')
    expect(succeeded).to_have_count(3)
    for phase in (TABULAR, CUSTOMERS, ORDERS):
        item = timeline.locator(f'[data-type="PhaseSucceeded"][data-phase="{phase}"]')
        expect(item).to_contain_text("succeeded")
        expect(item.locator(".reason")).to_have_text(["Manually stopped"])
    stops = timeline.locator('[data-type="StopRequested"]')
    expect(stops.filter(has_text="pre-queued")).to_have_count(1)
    expect(stops.filter(has_text=f"by {getpass.getuser()}")).to_have_count(1)  # the CLI's
    expect(stops.filter(has_text="by web")).to_have_count(2)
    expect(page.locator("#live")).to_have_text("Finished")

    assert page.evaluate("window.__notReloaded") is True  # all of it without a reload
    # A link replaced by an identical one between a click's mousedown and mouseup gets no click.
    assert page.evaluate("window.__outputsReplacedUnchanged") == 0
    quiet(page)
    page.screenshot(path=str(artifacts / "generator-view-finished.png"), full_page=True)
    print(f"\nscreenshot: {screenshot}")


def test_cancel_asks_for_confirmation_then_aborts_everything(web, page: Page, long_spec, artifacts):
    keep = web.create({**long_spec, "name": "keep-running"})
    gid = web.create({**long_spec, "name": "to-cancel"})
    page.goto(f"{web.url}/generators/{gid}")
    expect(row(page, TABULAR)).to_have_attribute("data-state", "running")
    cancel = page.get_by_role("button", name="Cancel generator to-cancel")
    # The Cancel button sits at the bottom of the Model Training panel.
    expect(page.locator("#training .card-foot").get_by_role("button")).to_have_count(1)

    cancel.click()
    dialog = page.locator("#cancel-dialog")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text("No checkpoint is kept")
    page.screenshot(path=str(artifacts / "cancel-confirmation.png"))
    dialog.get_by_role("button", name="Keep running").click()
    expect(dialog).to_be_hidden()
    page.wait_for_timeout(500)
    assert web.view(gid)["state"] == "running"  # nothing happened

    cancel.click()
    dialog.get_by_role("button", name="Cancel generator").click()
    expect(page.locator("#gen-state")).to_have_text("Cancelled")
    for phase in (TABULAR, CUSTOMERS, ORDERS):
        expect(row(page, phase)).to_have_attribute("data-state", "cancelled")
        expect(fast_forward(page, phase)).to_be_disabled()
    expect(cancel).to_be_disabled()
    expect(page.locator("#outputs")).to_contain_text("Cancelled: no checkpoint")
    expect(page.locator('#timeline [data-type="Cancelled"]')).to_contain_text("by web")
    assert web.view(gid)["state"] == "cancelled"
    assert web.view(keep)["state"] == "running"  # only this generator

    # The list page shows both, newest first, each linking to its view.
    page.goto(web.url + "/")
    names = page.locator("#generators th a")
    expect(names).to_have_text(["to-cancel", "keep-running"])
    expect(page.locator(f'tr[data-generator="{gid}"]')).to_contain_text("Cancelled")
    names.nth(1).click()
    expect(page).to_have_url(f"{web.url}/generators/{keep}")


def test_the_page_asks_for_the_api_token_once(make_server, page: Page, long_spec, tmp_path):
    """With a token, the page holds no data: it asks for the token once, then reads the view,
    follows the events, makes changes and downloads the outputs with it."""
    web = make_server(api_token="s3cret-token")
    gid = web.create(long_spec)
    page.goto(f"{web.url}/generators/{gid}")
    token_dialog = page.locator("#token-dialog")
    expect(token_dialog).to_be_visible()
    assert long_spec["name"] not in page.content()
    token_dialog.get_by_label("API token").fill("wrong")
    token_dialog.get_by_role("button", name="Save and retry").click()
    expect(token_dialog).to_contain_text("not accepted")
    token_dialog.get_by_label("API token").fill("s3cret-token")
    token_dialog.get_by_label("API token").press("Enter")  # Enter saves, as the button does
    expect(page.locator("#gen-name")).to_have_text(long_spec["name"])
    expect(row(page, TABULAR)).to_have_attribute("data-state", "running")
    expect(page.locator("#live")).to_have_text("Live")

    # Kept for this tab: changes do not ask again.
    assert page.evaluate("sessionStorage.getItem('ffwd-api-token')") == "s3cret-token"
    for phase in (CUSTOMERS, ORDERS, TABULAR):
        fast_forward(page, phase).click()
        expect(row(page, phase)).not_to_have_attribute("data-stop-requested", "false")
    expect(token_dialog).to_be_hidden()
    history = web.http.get(f"/api/generators/{gid}/history").json()
    stops = [e["phase"] for e in history if e["type"] == "StopRequested"]
    assert stops == [CUSTOMERS, ORDERS, TABULAR]

    # The outputs are files of the server: a plain link cannot send the token, the page can.
    expect(page.locator("#gen-state")).to_have_text("Succeeded", timeout=60_000)
    link = page.get_by_role("link", name="Synthetic customers (CSV)")
    assert page.request.get(web.url + link.get_attribute("href")).status == 401
    with page.expect_download() as download:
        link.click()
    saved = tmp_path / "downloaded.csv"
    download.value.save_as(saved)
    assert saved.read_text().startswith("id,")
    expect(token_dialog).to_be_hidden()
