"""The web pages and the output files: served by the app, nothing from elsewhere, and no file
outside the generator's own output folder."""

import os
import re
from pathlib import Path
from uuid import UUID

from ffwd.adapters.http.pages import output_file
from tests.integration.http.helpers import assert_problem


def test_the_list_page_is_a_frame_that_reads_the_api(client, create):
    gid = create(name="shop-demo")

    page = client.get("/")

    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert gid not in page.text and "shop-demo" not in page.text  # its data come from the API
    assert "/static/index.js" in page.text and 'id="filter-state"' in page.text


def test_the_generator_page_embeds_the_view(client, create):
    gid = create()

    page = client.get(f"/generators/{gid[:8]}")

    assert page.status_code == 200
    assert f'data-generator="{gid}"' in page.text
    assert "Model Training" in page.text
    assert "Cancel generator" in page.text
    assert '<dialog id="cancel-dialog"' in page.text
    assert "/static/generator.js" in page.text


def test_pages_load_nothing_from_elsewhere(client, create):
    gid = create()
    texts = [client.get("/").text, client.get(f"/generators/{gid}").text, client.get("/docs").text]
    for asset in ["ffwd.css", "common.js", "generator.js", "index.js"]:
        response = client.get(f"/static/{asset}")
        assert response.status_code == 200
        texts.append(response.text)

    for text in texts:
        assert not re.search(r"""(src|href)=["']?(https?:)?//""", text)
        assert "import(" not in text and "@import" not in text


def test_a_name_cannot_break_out_of_the_embedded_json(client, create):
    gid = create(name="</script><script>alert(1)</script>")

    page = client.get(f"/generators/{gid}").text

    assert "<script>alert(1)" not in page
    assert "&lt;/script&gt;" in page  # the title, escaped
    assert "<script>alert(1)" not in client.get("/").text


def test_an_unknown_generator_page_is_a_404_page(client):
    page = client.get("/generators/00000000-0000-4000-8000-000000000000")

    assert page.status_code == 404
    assert page.headers["content-type"].startswith("text/html")
    assert "Generator not found" in page.text


def test_output_files_are_served_from_the_generators_folder(client, create, svc):
    gid = create()
    view = svc.run(UUID(gid))
    assert Path(view.outputs["report_html"]).is_file()

    report = client.get(f"/generators/{gid}/files/report.html")
    table = client.get(f"/generators/{gid[:8]}/files/customers.csv")

    assert report.status_code == 200 and report.headers["content-type"].startswith("text/html")
    assert "default-src 'none'" in report.headers["content-security-policy"]
    assert table.status_code == 200 and table.headers["content-type"].startswith("text/csv")
    assert table.text.splitlines()[0] == "id,age,city,bio"


def test_no_path_leaves_the_output_folder(client, create, svc, data_dir: Path, tmp_path: Path):
    gid = create()
    other = create(name="other")
    svc.run(UUID(gid))
    svc.run(UUID(other))
    secret = tmp_path / "secret.txt"
    secret.write_text("do not serve", encoding="utf-8")
    folder = data_dir / "outputs" / gid
    os.symlink(secret, folder / "link.txt")

    for path in [
        "../../../secret.txt",
        "..%2F..%2F..%2Fsecret.txt",
        "%2E%2E/%2E%2E/%2E%2E/secret.txt",
        f"../{other}/report.html",
        str(secret),
        "%2F" + str(secret).lstrip("/").replace("/", "%2F"),
        "link.txt",
        "",
        "nothing.csv",
    ]:
        response = client.get(f"/generators/{gid}/files/{path}")
        assert response.status_code == 404, path
        assert "do not serve" not in response.text
        if not path.startswith(".."):
            # It reached the route (a client normalizes a plain `../` away before sending).
            assert response.json()["detail"].startswith("no output file"), path
    for relative in ["../../../secret.txt", f"../{other}/report.html", str(secret), "link.txt"]:
        assert output_file(data_dir, UUID(gid), relative) is None, relative
    assert output_file(data_dir, UUID(gid), "report.html") == (folder / "report.html").resolve()


def test_files_of_an_unknown_generator(client):
    assert_problem(
        client.get("/generators/00000000-0000-4000-8000-000000000000/files/report.html"),
        404,
        "unknown_generator",
    )
