"""`ffwd notify run` killed with SIGKILL mid-delivery and started again: nothing is lost,
the only duplicate is the notice that was in flight, and each generator's order holds."""

import json
import signal
import subprocess
import sys
from collections import Counter, defaultdict
from pathlib import Path

from tests.integration.notify.conftest import (
    cancelled,
    notified_keys,
    stopped_then_failed,
    succeeded,
    webhook,
)

IN_FLIGHT = 4  # the request that hangs, and during which the notifier is killed


def notifier(config: Path, store_url: str, log: Path) -> subprocess.Popen:
    command = ["notify", "run", "--notify", str(config), "--store", store_url]
    return subprocess.Popen(
        [sys.executable, "-m", "ffwd.adapters.cli", *command],
        stdout=subprocess.DEVNULL,
        stderr=log.open("a"),
    )


def test_no_notice_is_lost_when_the_notifier_is_killed(
    svc, store_url, sample_spec, receiver, tmp_path
):
    config = tmp_path / "notify.json"
    config.write_text(json.dumps(webhook(receiver.url)))
    log = tmp_path / "notifier.log"
    gids = [stopped_then_failed(svc, sample_spec), succeeded(svc, sample_spec)]
    receiver.answer(*[200] * (IN_FLIGHT - 1), "hang")

    first = notifier(config, store_url, log)
    try:
        receiver.wait_for(IN_FLIGHT, timeout_s=30)
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait(10)
    assert first.returncode == -signal.SIGKILL
    receiver.release()
    gids.append(cancelled(svc, sample_spec))  # stored while no notifier runs
    expected = notified_keys(svc, gids)

    second = notifier(config, store_url, log)
    try:
        requests = receiver.wait_until(lambda rs: expected <= {r.key for r in rs}, timeout_s=60)
    finally:
        second.send_signal(signal.SIGTERM)
        second.wait(10)
    assert second.returncode == 0, log.read_text()[-2000:]

    keys = [r.key for r in requests]
    in_flight = keys[IN_FLIGHT - 1]
    assert set(keys) == expected
    assert {k for k, n in Counter(keys).items() if n > 1} == {in_flight}
    assert keys.count(in_flight) == 2 and keys[IN_FLIGHT] == in_flight  # resent first
    assert all(r.verified and r.json["id"] == r.key for r in requests)
    versions = defaultdict(list)
    for key in dict.fromkeys(keys):  # first deliveries, in the order they arrived
        gid, version = key.split(":")
        versions[gid].append(int(version))
    assert all(v == sorted(v) for v in versions.values())
