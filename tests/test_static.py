"""Static files under a content-hashed URL (`/static/v/<version>/<path>`): pages link only those,
browsers may keep them a year, ES-module imports stay under the same version, and any change to
a file under static/ gives every URL a new version, so phones never run old JavaScript after an
upgrade. The plain `/static/<path>` keeps working for old links, briefly cached."""
from __future__ import annotations

import re
import shutil
from urllib.parse import urljoin, urlsplit

import pytest
from conftest import ROOT, make_app


@pytest.fixture
def db_url(sqlite_url):
    """Static files do not depend on the database engine: SQLite only."""
    return sqlite_url


VERSIONED = re.compile(r"^/static/v/([0-9a-f]{12})/(.+)$")
YEAR = 31536000


def cache_directives(response) -> dict[str, str | None]:
    directives = {}
    for part in response.headers.get("Cache-Control", "").split(","):
        key, _sep, value = part.strip().partition("=")
        if key:
            directives[key.lower()] = value or None
    return directives


def static_links(html: str) -> list[str]:
    """Every stylesheet and script a page loads from this server's static files."""
    return [u for u in re.findall(r'<(?:link|script)\b[^>]*\b(?:href|src)="([^"]+)"', html)
            if "/static/" in u]


def page_version(http, path: str) -> str:
    html = http.get(path).text
    versions = {VERSIONED.match(u).group(1) for u in static_links(html) if VERSIONED.match(u)}
    assert len(versions) == 1, (path, static_links(html))
    return versions.pop()


@pytest.fixture
def pages(world):
    """(client, path) for every kind of page: public, phone, projector, facilitator's."""
    world.facilitator()
    ws = world.workshop()
    http = world.app.test_client()
    fac = world.login()
    return [(http, "/"), (http, "/login"), (http, f"/w/{ws['code']}"), (http, "/w/NOPE99"),
            (http, f"/screen/{ws['code']}"), (fac, "/f/"), (fac, f"/f/w/{ws['id']}"),
            (fac, f"/f/w/{ws['id']}/invitations"), (fac, "/f/password")]


def test_every_page_links_its_static_files_under_one_version(pages):
    seen = set()
    for http, path in pages:
        links = static_links(http.get(path).text)
        assert links, f"{path} loads no static file"
        for url in links:
            assert VERSIONED.match(url), f"{path} links the unversioned {url}"
        seen.update(VERSIONED.match(u).group(1) for u in links)
    assert len(seen) == 1, seen


def test_a_versioned_url_serves_the_file_for_a_year(client):
    version = page_version(client, "/")
    for name, mimetype in [("js/socket.js", "text/javascript"), ("css/app.css", "text/css"),
                           ("vendor/socket.io.esm.min.js", "text/javascript")]:
        r = client.get(f"/static/v/{version}/{name}")
        assert r.status_code == 200, name
        assert r.mimetype == mimetype
        assert r.data == (ROOT / "static" / name).read_bytes()
        cache = cache_directives(r)
        assert "public" in cache and "immutable" in cache, r.headers["Cache-Control"]
        assert cache["max-age"] == str(YEAR)
    assert client.get(f"/static/v/{version}/js/no-such.js").status_code == 404
    assert client.get(f"/static/v/{version}/../config.py").status_code == 404


def test_plain_and_foreign_version_urls_still_work_with_a_short_cache(client):
    """Links from pages rendered before the upgrade (plain URLs), and another process's version
    during a rolling upgrade: the file is served, but never marked as good for a year."""
    version = page_version(client, "/")
    other = "0" * 12 if version != "0" * 12 else "1" * 12
    for url in ("/static/js/socket.js", f"/static/v/{other}/js/socket.js"):
        r = client.get(url)
        assert r.status_code == 200, url
        assert r.data == (ROOT / "static" / "js" / "socket.js").read_bytes()
        cache = cache_directives(r)
        assert "immutable" not in cache, url
        assert 0 < int(cache["max-age"]) <= 3600, url


def test_module_imports_and_css_urls_stay_under_the_version(pages):
    """Following every ES-module import and CSS url() from every page, as a browser resolves
    them, reaches only files of the same version, all served (no absolute /static/ paths)."""
    todo, done = [], set()
    for http, path in pages:
        todo += static_links(http.get(path).text)
    http = pages[0][0]
    version = VERSIONED.match(todo[0]).group(1)
    while todo:
        url = todo.pop()
        if url in done:
            continue
        done.add(url)
        assert VERSIONED.match(url) and VERSIONED.match(url).group(1) == version, url
        r = http.get(url)
        assert r.status_code == 200, url
        text = r.get_data(as_text=True)
        if url.endswith(".js") and "/vendor/" not in url:
            specifiers = re.findall(r"""\bimport\b[^"'();]*?["']([^"']+)["']""", text)
            specifiers += re.findall(r"""\bimport\s*\(\s*["']([^"']+)["']""", text)
        elif url.endswith(".css"):
            specifiers = re.findall(r"""url\(\s*["']?([^"')]+)""", text)
            specifiers = [s for s in specifiers if not s.startswith(("data:", "#"))]
        else:
            continue
        for spec in specifiers:
            assert spec.startswith(("./", "../")), f"{url} imports {spec} by absolute path"
            todo.append(urlsplit(urljoin(url, spec)).path)
    assert any(u.endswith("/vendor/socket.io.esm.min.js") for u in done), done


def test_changing_a_static_file_changes_every_url(tmp_path):
    """The version is a hash of the files' contents, not of where they are or when they
    changed: a copy of static/ has the repository's version until one of its files changes."""
    copy = tmp_path / "static"
    shutil.copytree(ROOT / "static", copy)
    repo = make_app(f"sqlite:///{tmp_path / 'a.sqlite3'}").test_client()
    before = make_app(f"sqlite:///{tmp_path / 'b.sqlite3'}", STATIC_FOLDER=str(copy)).test_client()
    assert page_version(before, "/") == page_version(repo, "/")
    assert before.get(f"/static/v/{page_version(before, '/')}/js/timer.js").status_code == 200

    changed = (copy / "js" / "timer.js").read_text() + "\n// the next release\n"
    (copy / "js" / "timer.js").write_text(changed)
    after = make_app(f"sqlite:///{tmp_path / 'c.sqlite3'}", STATIC_FOLDER=str(copy)).test_client()
    old, new = page_version(before, "/"), page_version(after, "/")
    assert new != old
    assert all(VERSIONED.match(u).group(1) == new for u in static_links(after.get("/").text))
    r = after.get(f"/static/v/{new}/js/timer.js")
    assert r.get_data(as_text=True) == changed and "immutable" in cache_directives(r)
    # The old version's URL answers with today's file, no longer for a year.
    assert "immutable" not in cache_directives(after.get(f"/static/v/{old}/js/timer.js"))

    (copy / "vendor" / "extra.txt").write_text("a new file counts too")
    added = make_app(f"sqlite:///{tmp_path / 'd.sqlite3'}", STATIC_FOLDER=str(copy)).test_client()
    assert page_version(added, "/") not in (old, new)
