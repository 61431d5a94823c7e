"""The README's receiver example, fed real deliveries: verified, deduplicated, forgeries refused."""

import re
from pathlib import Path

from ffwd.adapters.notify import start_delivery
from tests.integration.notify.conftest import SECRET, webhook

README = Path(__file__).parents[3] / "README.md"


def test_the_readme_receiver_checks_and_dedupes(svc, sample_spec, receiver, monkeypatch, capsys):
    section = README.read_text().split("\n## Notifications\n", 1)[1].split("\n## ", 1)[0]
    (code,) = re.findall(r"```py\n(.*?)```", section, re.S)
    monkeypatch.setenv("OPS_HOOK_SECRET", SECRET)
    example: dict = {"__name__": "readme_receiver"}
    exec(compile(code, str(README), "exec"), example)
    with start_delivery(svc.store, webhook(receiver.url, events=["generator.created"])):
        gid = svc.create_generator(sample_spec)
        (request,) = receiver.wait_for(1)
    capsys.readouterr()
    receive = example["receive"]
    assert receive(request.body, request.headers) == 200
    assert receive(request.body, request.headers) == 200  # redelivered: acknowledged only
    assert capsys.readouterr().out.count("generator.created") == 1
    forged = request.body.replace(str(gid).encode(), b"0" * 36)
    assert receive(forged, request.headers) == 401
