"""The page says what a stop is decided by, in Chromium: each phase's curve with the kept
checkpoint, the best so far and whether a checkpoint is usable; a runner gone silent; and
the continue loop (a button on a succeeded generator, the lineage)."""

from typing import Any

from playwright.sync_api import Page, expect

from tests.integration.workers.conftest import wait_until

TABULAR = "tabular"


def facts(page: Page, phase: str) -> Any:
    return page.locator(f'tr.curve-row[data-curve-for="{phase}"] .phase-facts')


def curve(page: Page, phase: str) -> Any:
    return page.locator(f'.curve[data-curve-for="{phase}"]')


def test_a_running_phase_shows_its_curve_and_the_facts_to_stop_by(
    web, page: Page, long_spec, artifacts
) -> None:
    gid = web.create(long_spec)
    # Until the tabular phase has trained long enough for its curve to flatten.
    wait_until(
        lambda: len(web.http.get(f"/api/generators/{gid}/phases/{TABULAR}/metrics").json()) >= 15,
        120,
        "fifteen epochs of tabular training",
    )
    page.goto(f"{web.url}/generators/{gid}")
    expect(facts(page, TABULAR)).to_contain_text("Best: epoch")
    expect(facts(page, TABULAR)).to_contain_text("Usable checkpoint: yes")
    expect(facts(page, TABULAR)).to_contain_text("left")
    expect(curve(page, TABULAR).locator("canvas")).to_have_count(1)
    wait_until(
        lambda: int(curve(page, TABULAR).get_attribute("data-points") or 0) >= 15,
        60,
        "the curve to hold every epoch so far",
    )
    expect(curve(page, TABULAR)).to_contain_text("kept checkpoint")
    expect(page.locator(f'tr[data-phase="{TABULAR}"] .epochs')).to_contain_text("/ 100000")
    expect(page.get_by_role("button", name="Continue training")).to_be_hidden()  # running
    page.screenshot(path=str(artifacts / "when-to-stop-plateau.png"), full_page=True)

    # Decided: stop it. The curve goes on showing where the stop was asked and landed.
    page.locator(f'tr[data-phase="{TABULAR}"] button.ff').click()
    expect(page.locator(f'tr[data-phase="{TABULAR}"]')).to_have_attribute(
        "data-state", "succeeded", timeout=60_000
    )
    expect(facts(page, TABULAR)).to_contain_text("Best: epoch")
    expect(facts(page, TABULAR)).not_to_contain_text("Usable checkpoint")  # it ended


def test_a_silent_runner_is_said_to_be_silent(api_only, page: Page, long_spec) -> None:
    """A worker that claimed the phase and then said nothing (its terminal was closed)."""
    gid = api_only.svc.create_generator(long_spec)
    api_only.svc.start_phase(gid, TABULAR, "gone-worker", lease_s=3.0)
    page.goto(f"{api_only.url}/generators/{gid}")
    alert = facts(page, TABULAR).locator(".stale")
    expect(alert).to_contain_text("No report for", timeout=60_000)
    expect(alert).to_contain_text("its worker may be gone")
    # Said once to a screen reader, in words that do not tick.
    said = page.locator(f'tr.curve-row[data-curve-for="{TABULAR}"] [role="alert"]')
    expect(said).to_contain_text("Tabular training: no report since")
    api_only.svc.cancel(gid, requested_by="test")


def test_continue_training_from_the_page(api_only, page: Page, long_spec) -> None:
    svc = api_only.svc
    spec = {**long_spec, "training": {**long_spec["training"], "max_epochs": 2}}
    parent = svc.run(svc.create_generator(spec), progress_interval_s=0.0)
    assert parent.state == "succeeded"
    page.goto(f"{api_only.url}/generators/{parent.id}")
    button = page.get_by_role("button", name="Continue training")
    expect(button).to_be_visible()
    button.click()
    dialog = page.locator("#continue-dialog")
    dialog.get_by_label("More epochs").fill("3")
    dialog.get_by_label("More epochs").press("Enter")  # Enter continues, as the button does
    child_link = page.locator("#lineage a[data-child]")
    expect(child_link).to_have_count(1)
    child = child_link.get_attribute("data-child")
    view = api_only.http.get(f"/api/generators/{child}").json()
    assert view["parent"] == str(parent.id)
    kept = {p.id: p.checkpoint.epoch for p in parent.phases}
    assert {p["id"]: p["epoch_limit"] for p in view["phases"]} == {
        p: e + 3 for p, e in kept.items()
    }
    child_link.click()
    expect(page.locator("#gen-meta")).to_contain_text(str(parent.id)[:8])  # "Continues"
    svc.cancel(child, requested_by="test")
