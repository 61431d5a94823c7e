"""A preemption as the page tells it: the phase handed back at a step boundary ("preempted at
epoch E, step S"), waiting for the next free worker, then "resumed by W" in the timeline. The
phases are driven through the service directly. And a wait for resources on a cluster, as the
page tells it."""

from playwright.sync_api import Page, expect

KEPT = {"id": "a1-e3-s12", "epoch": 3, "step": 12, "val_loss": 0.4}


def test_a_preempted_phase_says_where_it_was_handed_back_and_who_resumed_it(
    api_only, page: Page, long_spec
):
    svc = api_only.svc
    gid = svc.create_generator(long_spec)
    attempt = svc.start_phase(gid, "tabular", "worker-a")
    svc.record_progress(gid, "tabular", attempt, epoch=3, step=12, elapsed_s=2.0, kept=KEPT)
    page.goto(f"{api_only.url}/generators/{gid}")
    expect(page.locator('tr[data-phase="tabular"]')).to_have_attribute("data-state", "running")

    svc.release_phase(gid, "tabular", attempt, epoch=3, step=13, elapsed_s=2.2, kept=KEPT)
    row = page.locator('tr[data-phase="tabular"]')
    expect(row).to_have_attribute("data-state", "pending")
    expect(row.locator(".preempted")).to_have_text(
        "Preempted at epoch 3, step 13: resumes from epoch 3, step 12 on the next free worker"
    )
    released = page.locator('#timeline [data-type="PhaseReleased"]')
    expect(released).to_contain_text("Tabular training preempted at epoch 3, step 13")
    expect(released).to_contain_text("worker-a was shutting down and handed it back")

    svc.start_phase(gid, "tabular", "worker-b")
    expect(row).to_have_attribute("data-state", "running")
    expect(row.locator(".preempted")).to_have_text("Preempted once, resumed each time")
    resumed = page.locator('#timeline [data-type="PhaseStarted"]').last
    expect(resumed).to_contain_text("Tabular training resumed by worker-b")
    expect(resumed).to_contain_text("from epoch 3, step 13 where it was preempted")
    svc.cancel(gid, requested_by="test")


def test_a_wait_for_cluster_resources_shows_in_the_row_and_the_timeline(
    api_only, page: Page, long_spec
):
    svc = api_only.svc
    gid = svc.create_generator(long_spec)
    attempt = svc.start_phase(gid, "tabular", "ray-driver")
    page.goto(f"{api_only.url}/generators/{gid}")
    row = page.locator('tr[data-phase="tabular"]')
    expect(row).to_have_attribute("data-state", "running")

    svc.wait_for_resources(gid, "tabular", attempt, "2 CPU, 1 GPU")
    expect(row).to_contain_text("Waiting for resources: 2 CPU, 1 GPU")
    waits = page.locator('#timeline [data-type="PartWaiting"]')
    expect(waits).to_have_count(1)
    expect(waits.first).to_contain_text("Tabular training: waiting for resources")
    expect(waits.first).to_contain_text("2 CPU, 1 GPU")

    svc.wait_for_resources(gid, "tabular", attempt, None)
    expect(row).not_to_contain_text("Waiting for resources")
    expect(waits).to_have_count(2)
    expect(waits.last).to_contain_text("Tabular training: its resources came free")
    svc.cancel(gid, requested_by="test")
