"""The generator list in Chromium: a page at a time, filtered by state and name, and kept fresh
without ever piling up requests (one open tab was a denial of service)."""

import re
import threading
import time
from typing import Any

from playwright.sync_api import Page, expect

from tests.integration.workers.conftest import wait_until


def queued(server: Any, web_tables: Any, count: int) -> list[str]:
    """Generators created in the store (not run): shop-00, shop-01, ... oldest first."""
    table = {"name": "customers", "path": str(web_tables / "customers.csv"), "text_columns": []}
    return [
        str(server.svc.create_generator({"name": f"shop-{i:02d}", "tables": [table]}))
        for i in range(count)
    ]


def names(page: Page) -> Any:
    return page.locator("#generators th a")


def test_pages_filters_and_search(api_only, web_tables, page: Page) -> None:
    ids = queued(api_only, web_tables, 30)
    for gid in ids[:3]:
        api_only.svc.cancel(gid, requested_by="test")

    page.goto(api_only.url + "/")
    expect(names(page)).to_have_count(25)
    expect(names(page).first).to_have_text("shop-29")
    newer, older = page.locator("#newer"), page.locator("#older")
    expect(newer).to_be_disabled()
    older.click()
    expect(names(page)).to_have_text([f"shop-{i:02d}" for i in range(4, -1, -1)])
    expect(older).to_be_disabled()
    newer.click()
    expect(names(page)).to_have_count(25)
    expect(names(page).first).to_have_text("shop-29")

    page.locator("#filter-state").select_option("cancelled")
    expect(names(page)).to_have_text(["shop-02", "shop-01", "shop-00"])
    expect(page).to_have_url(re.compile(r"state=cancelled"))
    page.locator("#filter-state").select_option("")
    page.locator("#filter-name").fill("SHOP-1")
    expect(names(page)).to_have_text([f"shop-{i}" for i in range(19, 9, -1)])
    page.locator("#filter-name").fill("no such thing")
    expect(page.locator("#generators")).to_contain_text("No generator matches these filters.")

    page.reload()  # the filters are in the address: a reload keeps them
    expect(page.locator("#filter-name")).to_have_value("no such thing")


def test_refreshes_never_overlap_even_when_the_store_is_slow(api_only, web_tables, page: Page):
    """Each list request here takes longer than the refresh interval (3 s): a refresh starts
    only once the last one ended, so at most one is ever in flight."""
    queued(api_only, web_tables, 3)
    in_flight, most, done = [0], [0], [0]
    lock = threading.Lock()
    listed = api_only.svc.list_generators

    def slow_list(**query: Any) -> Any:
        with lock:
            in_flight[0] += 1
            most[0] = max(most[0], in_flight[0])
        try:
            time.sleep(3.5)
            return listed(**query)
        finally:
            with lock:
                in_flight[0] -= 1
                done[0] += 1

    api_only.svc.list_generators = slow_list
    page.goto(api_only.url + "/")
    expect(names(page)).to_have_count(3, timeout=60_000)
    wait_until(lambda: done[0] >= 3, 120, "three list requests to end")
    assert most[0] == 1, f"{most[0]} list requests were in flight at once"


def test_a_refresh_keeps_the_rows_it_does_not_change(api_only, web_tables, page: Page):
    """A link replaced between a click's mousedown and its mouseup receives no click: the list
    refreshes every few seconds, so it replaces its rows only when they change."""
    ids = queued(api_only, web_tables, 2)
    attempt = api_only.svc.start_phase(ids[-1], "tabular", "w")  # the newest, shown first
    page.goto(api_only.url + "/")
    expect(names(page)).to_have_count(2)
    expect(page.locator(f'[data-generator="{ids[-1]}"]')).to_contain_text("Running")
    # Marked with a property, not an attribute: the page compares what its rows' HTML says.
    names(page).first.evaluate("a => { a.kept = true; }")
    # It trains on: its summary changes (version, update time), not what its row shows.
    api_only.svc.record_progress(ids[-1], "tabular", attempt, epoch=1, step=3, elapsed_s=0.1)

    def listed(response: Any) -> bool:
        return "/api/generators?" in response.url

    # A refresh is asked for only once the one before has been shown: the third answer
    # comes after the page showed the second, read after the progress.
    for _ in range(3):
        with page.expect_response(listed, timeout=60_000):
            pass
    assert names(page).first.evaluate("a => a.kept === true")

    api_only.svc.cancel(ids[-1], requested_by="test")  # a change is shown all the same
    expect(page.locator(f'[data-generator="{ids[-1]}"]')).to_contain_text("Cancelled")
    assert names(page).first.evaluate("a => a.kept !== true")
