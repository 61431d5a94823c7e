"""The privacy budget on the page: a bar of epsilon spent against the maximum, with the
forecast of how many more epochs it pays for, updated live. The phase is driven through the
service directly, as a runner would report it."""

from playwright.sync_api import Page, expect

PLAN = {
    "noise_multiplier": 18.02,
    "calibrated": True,
    "sampling_rate": 0.047,
    "steps_per_epoch": 22,
    "last_step": 8800,  # 400 epochs
}


def test_the_budget_bar_and_its_forecast(api_only, page: Page, long_spec):
    svc = api_only.svc
    spec = {**long_spec, "training": {**long_spec["training"], "max_epochs": 400}}
    spec["training"]["differential_privacy"] = {"max_epsilon": 1.0}
    gid = svc.create_generator(spec)  # a server that runs nothing: the test is its runner
    attempt = svc.start_phase(gid, "tabular", "test")
    svc.record_privacy(gid, "tabular", attempt, **PLAN)
    svc.record_progress(gid, "tabular", attempt, epoch=100, step=2200, elapsed_s=3.0, epsilon=0.5)

    page.goto(f"{api_only.url}/generators/{gid}")
    meter = page.get_by_role("meter", name="Privacy budget of tabular")
    expect(meter).to_have_attribute("aria-valuenow", "0.5")
    expect(meter).to_have_attribute("aria-valuemax", "1")
    expect(meter.locator(".budget-fill")).to_have_attribute("style", "width: 50%;")
    cell = page.locator('tr[data-phase="tabular"] .budget-cell')
    expect(cell.locator(".budget-value")).to_have_text("ε 0.50 of 1")
    expect(cell.locator(".budget-forecast")).to_have_text(
        "300 epochs left: the epoch limit comes first · noise 18.02"
    )
    # A phase that has not chosen its noise yet shows the budget it will keep.
    expect(page.locator('tr[data-phase="text:customers"] .budget-forecast')).to_have_text(
        "noise chosen for the budget when it starts · δ 0.00001"
    )

    # Live: an explicit, smaller budget left than the epoch limit.
    svc.record_privacy(gid, "tabular", attempt, **{**PLAN, "last_step": 2750})
    svc.record_progress(gid, "tabular", attempt, epoch=110, step=2420, elapsed_s=4.0, epsilon=0.9)
    expect(cell.locator(".budget-forecast")).to_have_text(
        "ends the phase in 15 epochs · noise 18.02"
    )
    expect(meter).to_have_attribute("aria-valuenow", "0.9")
    svc.cancel(gid, requested_by="test")
