"""Stop reasons as the page names them (several at once), and an anonymization generator,
which has no training phase to stop. The phases are driven through the service directly."""

from playwright.sync_api import Page, expect

CHECKPOINT = {"id": "ckpt", "epoch": 1, "step": 4}


def finish(svc, gid, phase: str, reasons: list[str]) -> None:
    attempt = svc.start_phase(gid, phase, "test")
    svc.finish_phase(
        gid, phase, attempt, reasons=reasons, checkpoint=CHECKPOINT, epoch=2, step=8, elapsed_s=1.5
    )


def test_every_reason_has_its_label_and_several_show_at_once(api_only, page: Page, long_spec):
    svc = api_only.svc
    gid = svc.create_generator(long_spec)  # this server runs nothing: the test does
    finish(svc, gid, "tabular", ["manually_stopped", "max_epochs_reached"])
    finish(svc, gid, "text:customers", ["early_stopped", "privacy_budget_exhausted"])

    page.goto(f"{api_only.url}/generators/{gid}")
    expect(page.locator('tr[data-phase="tabular"] .reason')).to_have_text(
        ["Manually stopped", "Max epochs reached"]
    )
    expect(page.locator('tr[data-phase="text:customers"] .reason')).to_have_text(
        ["Early stopped", "Privacy budget exhausted"]
    )
    expect(page.locator('tr[data-phase="text:orders"]')).to_have_attribute("data-state", "pending")

    # Live: the last phase ends while the page is open, for reasons that cannot be told.
    finish(svc, gid, "text:orders", [])
    orders = page.locator('#timeline [data-type="PhaseSucceeded"][data-phase="text:orders"]')
    expect(orders.locator(".reason")).to_have_text(["Unknown"])
    expect(page.locator('tr[data-phase="text:orders"] .reason')).to_have_text(["Unknown"])
    tabular = page.locator('#timeline [data-type="PhaseSucceeded"][data-phase="tabular"]')
    expect(tabular.locator(".reason")).to_have_text(["Manually stopped", "Max epochs reached"])
    svc.cancel(gid, requested_by="test")


def test_an_anonymization_generator_has_no_phase_to_stop(api_only, page: Page, long_spec):
    spec = {key: value for key, value in long_spec.items() if key != "training"}
    gid = api_only.svc.create_generator({**spec, "name": "anonymize-it", "kind": "anonymization"})

    page.goto(f"{api_only.url}/generators/{gid}")

    expect(page.locator("#phases")).to_contain_text("do not involve model training")
    expect(page.locator("button.ff")).to_have_count(0)
    expect(page.get_by_role("button", name="Cancel generator anonymize-it")).to_be_enabled()
    api_only.svc.cancel(gid, requested_by="test")
