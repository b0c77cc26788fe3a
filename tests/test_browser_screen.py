"""The projector in a real Chromium at 1280x720 and 1920x1080, with 3, 15 and 40 domains.

A real server (`edp run`), real phones (python-socketio clients over websockets) that join from
several helices and vote, a real facilitator connection (session cookie) that moves the phases,
reveals the results and records the priorities. At every stage the page must not scroll; every
approved domain, every ranked domain and every priority must become fully visible (not clipped,
inside the viewport) on some page, in type no smaller than the projector's floor (2.2% of the
viewport height); pages show "1/N" when there are several; the vote shows "N of M have voted"
from the ballots cast; the corner QR code is there on every stage but the lobby (which has the
big one); no two labels of the support-and-consensus chart overlap; axe-core finds nothing.
Screenshots: tests/artifacts/screen-<domains>-<width>-<stage>.png.
"""

from __future__ import annotations

import contextlib
import json
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import socketio
from conftest import TEMPLATE, LiveServer, login_cookie
from test_browser import ARTIFACTS, READY, assert_accessible, chromium, collect_errors  # noqa: F401

pytestmark = [pytest.mark.browser, pytest.mark.server]

FLOOR = 0.022  # the smallest text on the projector: 2.2% of the viewport height
SIZES = [(1280, 720), (1920, 1080)]

# Real-looking titles: long and short, with long words that must wrap between words only.
TITLES = [
    "Advanced manufacturing for the energy transition",
    "Digital services for public health",
    "Sustainable tourism and cultural heritage",
    "Precision agriculture and water-efficient irrigation for smallholders",
    "Green hydrogen valleys",
    "Aquaculture and blue food",
    "Smart logistics for ports",
    "Circular construction materials",
    "Biotechnology for agri-food value chains and functional ingredients",
    "Creative industries",
    "Forest bioeconomy",
    "Internationalisation of knowledge-intensive business services",
    "Medical devices and diagnostics",
    "Offshore wind supply chain",
    "Mining technology and critical raw materials recycling",
    "Electromobility",
    "Food safety and traceability",
    "Space data for territorial monitoring",
    "Cybersecurity for small firms",
    "Healthy ageing and long-term care innovation",
    "Textiles and sustainable fashion",
    "Semiconductors packaging",
    "Artificial intelligence for public administration",
    "Wine and specialty beverages",
    "Rail and sustainable mobility",
    "Climate adaptation services",
    "Fisheries modernisation",
    "Pharmaceutical chemistry",
    "Photonics",
    "Educational technology",
    "Social economy and cooperatives",
    "Water treatment technologies",
    "Drones for agriculture and emergency response",
    "Natural cosmetics",
    "Timber construction",
    "Batteries and energy storage",
    "Mountain tourism",
    "Quantum technologies",
    "Agroforestry and regenerative farming",
    "Microelectronics design",
]
RATIONALE = (
    "The region already has {n} firms and two universities working on it; the diagnosis shows a "
    "specialisation above the national average, and the funders said yes. Public administration "
    "and civil society supported it in the discussion, with a concern about water use."
)
INDICATORS = ["Firms in the value chain", "Private R&D investment", "Graduates employed in the region"]
# Who joins and who votes: (helix, joined, voted). Civil society has fewer than three voters.
PEOPLE = [("business", 5, 4), ("academia", 4, 3), ("government", 3, 3), ("civil_society", 2, 1),
          ("environment", 3, 0)]


def template_with(tmp: Path, n_domains: int, max_priorities: int, title: str | None = None) -> Path:
    """The first template with `n_domains` seed domains (approved), the priority cap and
    perhaps another title."""
    text = TEMPLATE.read_text()
    text = text[: text.index("[[domains]]")]
    text = text.replace("max_priorities = 5", f"max_priorities = {max_priorities}")
    if title:
        text = text.replace('title = "Smart Specialisation priority-setting workshop"', f'title = "{title}"')
    for name in TITLES[:n_domains]:
        text += f'\n[[domains]]\ntitle = "{name}"\ndescription = "About {name.lower()}."\n'
    path = tmp / f"screen-{n_domains}.toml"
    path.write_text(text)
    return path


class Sock:
    def __init__(self, url: str, cookie: str | None = None):
        self.sio = socketio.Client(reconnection=False)
        headers = {"Cookie": cookie} if cookie else {}
        self.sio.connect(url, headers=headers, transports=["websocket"], wait_timeout=10)

    def call(self, event: str, data) -> dict:
        ack = self.sio.call(event, data, timeout=10)
        assert isinstance(ack, dict) and ack.get("ok") is True, (event, data, ack)
        return ack

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.sio.disconnect()


class Workshop:
    """A workshop on a live server, driven by a facilitator and phones."""

    def __init__(self, server: LiveServer, tmp: Path, n_domains: int, max_priorities: int = 5,
                 title: str | None = None):
        self.server = server
        self.info = server.seed(template=template_with(tmp, n_domains, max_priorities, title))
        server.start()
        self.url = server.url
        self.wid = self.info["id"]
        self.fac = Sock(self.url, cookie=login_cookie(self.url))
        state = self.fac.call("facilitate", {"workshop_id": self.wid})["state"]
        self.domains = [d for d in state["domains"] if d["status"] == "approved"]
        self.phones: list[tuple[str, Sock]] = []

    def act(self, event: str, **payload) -> dict:
        return self.fac.call(event, {"workshop_id": self.wid, **payload})

    def join(self) -> None:
        def one(helix: str) -> tuple[str, Sock]:
            phone = Sock(self.url)
            phone.call("join", {"code": self.info["code"], "helix": helix})
            return helix, phone

        helices = [helix for helix, joined, _voted in PEOPLE for _ in range(joined)]
        with ThreadPoolExecutor(max_workers=8) as pool:
            self.phones = list(pool.map(one, helices))

    def vote(self) -> int:
        """The phones that should vote spread their 10 points (at most 5 on a domain) over
        domains picked by helix, so helices agree on some and not on others. Returns how many
        participants voted."""
        ids = [d["domain_id"] for d in self.domains]
        voted = 0
        seen: dict[str, int] = {}
        for k, (helix, phone) in enumerate(self.phones):
            quota = {h: v for h, _j, v in PEOPLE}[helix]
            seen[helix] = seen.get(helix, 0) + 1
            if seen[helix] > quota:
                continue
            start = (k * 3) % len(ids)
            picks = [ids[0], ids[(start + 1) % len(ids)], ids[(start + 2) % len(ids)]]
            for domain_id, points in zip(picks, (5, 3, 2)):
                phone.call("vote", {"domain_id": domain_id, "points": points})
            voted += 1
        return voted

    def decide(self, n: int) -> list[str]:
        titles = []
        for rank, d in enumerate(self.domains[:n], start=1):
            self.act("decide", domain_id=d["domain_id"], rank=rank,
                     rationale=RATIONALE.format(n=10 * rank + 3), indicators=INDICATORS[: 1 + rank % 3])
            titles.append(d["title"])
        return titles

    def close(self) -> None:
        for _helix, phone in self.phones:
            phone.close()
        self.fac.close()


# ---------------------------------------------------------------- checks on the page

# Every element whose own text shows, with its box, whether an ancestor (or the viewport)
# clips it, and its font size. Off-page items (and visually hidden text) are skipped.
VISIBLE_TEXTS = """(root) => {
  const out = [];
  const clipped = (el, r) => {
    if (r.left < -0.5 || r.top < -0.5 || r.right > innerWidth + 0.5 || r.bottom > innerHeight + 0.5) return 'viewport';
    for (let a = el.parentElement; a; a = a.parentElement) {
      const cs = getComputedStyle(a);
      if (cs.overflowX === 'visible' && cs.overflowY === 'visible' && cs.clipPath === 'none') continue;
      const b = a.getBoundingClientRect();
      if (r.left < b.left - 0.5 || r.top < b.top - 0.5 || r.right > b.right + 0.5 || r.bottom > b.bottom + 0.5) return a.id || a.className || a.tagName;
    }
    return null;
  };
  const hiddenBy = (el) => el.closest('.off-page, .visually-hidden, [hidden], .skip-link:not(:focus), .long');
  for (const el of (root || document.body).querySelectorAll('*')) {
    if (hiddenBy(el)) continue;
    const own = Array.from(el.childNodes).filter(n => n.nodeType === 3 && n.textContent.trim()).map(n => n.textContent.trim()).join(' ');
    if (!own) continue;
    const cs = getComputedStyle(el);
    if (cs.display === 'none' || cs.visibility === 'hidden') continue;
    const r = el.getBoundingClientRect();
    if (r.width === 0 && r.height === 0) continue;
    out.push({text: own, tag: el.tagName, id: el.id, cls: el.className, font: parseFloat(cs.fontSize),
              clip: clipped(el, r), ellipsis: cs.textOverflow === 'ellipsis' && el.scrollWidth > el.clientWidth,
              wrap: cs.overflowWrap + '/' + cs.wordBreak + '/' + cs.hyphens});
  }
  return out;
}"""

NO_SCROLL = """() => ({
  sh: document.documentElement.scrollHeight, sw: document.documentElement.scrollWidth,
  bh: document.body.scrollHeight, bw: document.body.scrollWidth,
  ih: innerHeight, iw: innerWidth,
  main: (() => { const m = document.querySelector('main'); return [m.scrollHeight, m.clientHeight]; })(),
})"""


def assert_no_scroll(page, where: str) -> None:
    m = page.evaluate(NO_SCROLL)
    assert m["sh"] <= m["ih"] and m["sw"] <= m["iw"], f"{where}: the page scrolls: {m}"
    assert m["bh"] <= m["ih"] and m["bw"] <= m["iw"], f"{where}: the body overflows: {m}"
    assert m["main"][0] <= m["main"][1] + 1, f"{where}: content overflows the main area: {m}"


def check_texts(page, where: str) -> list[dict]:
    """Everything on screen: inside the viewport, not clipped, not ellipsised, big enough, and
    wrapping between words only."""
    height = page.evaluate("() => innerHeight")
    texts = page.evaluate(VISIBLE_TEXTS, None)
    for x in texts:
        assert x["clip"] is None, f"{where}: clipped by {x['clip']}: {x}"
        assert not x["ellipsis"], f"{where}: ellipsised: {x}"
        assert x["font"] >= FLOOR * height - 0.6, f"{where}: text smaller than the floor: {x}"
        assert x["wrap"] == "normal/normal/manual", f"{where}: words may break: {x}"
    return texts


def pages_of(page, list_id: str) -> int:
    return int(page.evaluate(f"() => Number(document.getElementById('{list_id}').dataset.pages || 1)"))


def collect_over_pages(page, list_id: str, where: str, by_itself: bool = False) -> set[str]:
    """Texts seen, fully visible, on every page of a paged list. The pages are turned with the
    → key (the facilitator's way), or, `by_itself`, by waiting for the page to turn."""
    seen: set[str] = set()
    n = pages_of(page, list_id)
    indicator = page.locator(f'.pager[data-pager="{list_id}"]')
    if n > 1:
        assert indicator.is_visible(), f"{where}: no page indicator with {n} pages"
        assert indicator.locator(".pager-words").text_content().startswith("Page ")
    else:
        assert indicator.is_hidden(), f"{where}: a page indicator with one page"
    for k in range(n):
        number = page.evaluate(f"() => document.getElementById('{list_id}').dataset.page")
        if n > 1:
            assert indicator.locator(".pager-n").inner_text() == f"{number}/{n}"
            assert indicator.locator(".pager-words").text_content() == f"Page {number} of {n} (paused)"
        for x in check_texts(page, f"{where} page {number}"):
            seen.add(x["text"])
        if n > 1:
            if by_itself and k == 0:
                set_paused(page, False)  # the first turn comes by itself...
                page.wait_for_function(
                    f"(p) => document.getElementById('{list_id}').dataset.page !== p", arg=number)
                set_paused(page, True)
                page.keyboard.press("ArrowLeft")  # ...and back to where the key turns go on
            page.keyboard.press("ArrowRight")
            page.wait_for_function(
                f"(p) => document.getElementById('{list_id}').dataset.page !== p", arg=number)
    return seen


def set_paused(page, paused: bool) -> None:
    """The space bar pauses and resumes the page turns (tests look at still pages)."""
    if (page.evaluate("() => document.body.dataset.paused") == "yes") != paused:
        page.keyboard.press(" ")
    assert page.evaluate("() => document.body.dataset.paused") == ("yes" if paused else "no")


LINES = """(id) => {
  const li = document.querySelector(`#priorities > li[data-key="${id}"]`);
  const box = li.getBoundingClientRect();
  const out = [];
  for (const el of li.querySelectorAll('.title, .rationale, .indicator-line')) {
    const range = document.createRange();
    range.selectNodeContents(el);
    const font = parseFloat(getComputedStyle(el).fontSize);
    Array.from(range.getClientRects()).forEach((r, k) => out.push({key: `${el.className}:${k}`, font,
      inside: !li.classList.contains('off-page') && r.left >= box.left - 0.5 && r.right <= box.right + 0.5
        && r.top >= box.top - 0.5 && r.bottom <= box.bottom + 0.5
        && r.top >= 0 && r.bottom <= innerHeight}));
  }
  return out;
}"""


def long_lines(page, domain_id: int, where: str) -> set[str]:
    """Every line of a priority too long for one page is, at some page, wholly on the screen."""
    height = page.evaluate("() => innerHeight")
    n = pages_of(page, "priorities")
    shown: set[str] = set()
    every: set[str] = set()
    for _ in range(n):
        number = page.evaluate("() => document.getElementById('priorities').dataset.page")
        for line in page.evaluate(LINES, domain_id):
            every.add(line["key"])
            if line["inside"]:
                shown.add(line["key"])
                assert line["font"] >= FLOOR * height - 0.6, f"{where}: {line}"
        page.keyboard.press("ArrowRight")
        page.wait_for_function("(p) => document.getElementById('priorities').dataset.page !== p", arg=number)
    assert every and shown == every, f"{where}: lines never shown: {sorted(every - shown)}"
    return every


def shot(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"screen-{name}.png"))


def chart_labels_apart(page, where: str) -> None:
    page.wait_for_function("() => window.edpConsensusChart && window.edpChartLabels.length > 0")
    page.wait_for_timeout(500)  # the chart's animation
    labels = page.evaluate("() => window.edpChartLabels")
    markers = page.evaluate("() => window.edpChartMarkers")
    points = page.evaluate(
        "() => window.edpConsensusChart.data.datasets.flatMap(d => d.data.map(p => p.n))")

    def overlap(a, b):
        return (a["left"] < b["left"] + b["width"] and b["left"] < a["left"] + a["width"]
                and a["top"] < b["top"] + b["height"] and b["top"] < a["top"] + a["height"])

    for i, a in enumerate(labels):
        for b in labels[i + 1:]:
            assert not overlap(a, b), f"{where}: chart labels overlap: {a} {b}"
        for m in markers:
            assert not overlap(a, m), f"{where}: a chart label covers a marker: {a} {m}"
    labelled = sorted(n for x in labels for n in x["n"])
    assert labelled == sorted(points), f"{where}: points without a label: {labelled} {points}"


# ---------------------------------------------------------------- the scenario


LONG_TITLE = ("Regional innovation strategy for smart specialisation 2028-2034: priority-setting "
              "workshop with the quintuple helix of the northern and coastal provinces")


def run(chromium, tmp_path, n_domains: int, n_priorities: int, axe: bool = True,  # noqa: F811
        title: str | None = None, extras: bool = False):
    """The whole workshop on two projectors. `extras`: a comment hidden and restored, sizes in
    between, and a rationale longer than a whole page."""
    server = LiveServer(f"sqlite:///{tmp_path / 'live.sqlite3'}", log_dir=tmp_path)
    ws = None
    errors: list[str] = []
    try:
        ws = Workshop(server, tmp_path, n_domains, max_priorities=max(5, n_priorities), title=title)
        code = ws.info["code"]
        titles = {d["title"] for d in ws.domains}
        screens = []
        for width, height in SIZES:
            ctx = chromium.new_context(viewport={"width": width, "height": height}, base_url=ws.url)
            page = ctx.new_page()
            collect_errors(errors, page, f"screen {width}")
            page.goto(f"/screen/{code}?turn=1")
            page.wait_for_function(READY)
            set_paused(page, True)
            screens.append((f"{n_domains}-{width}", page, ctx))

        def each(stage: str, check, label: str | None = None) -> None:
            for name, page, _ctx in screens:
                page.wait_for_function("(s) => document.body.dataset.stage === s", arg=stage)
                where = f"{name} {label or stage}"
                assert_no_scroll(page, where)
                check(page, where)
                assert_no_scroll(page, where)
                # A page turn fades in, bars grow: let them finish for the picture and axe.
                page.wait_for_function("() => document.getAnimations().length === 0")
                shot(page, f"{name}-{label or stage}")
                if axe:
                    assert_accessible(page, f"projector {where}")

        # Lobby: the big code; phones join and the counts follow.
        ws.join()
        joined = sum(j for _h, j, _v in PEOPLE)

        def lobby(page, where):
            page.wait_for_function(f"() => document.getElementById('total').textContent.endsWith(': {joined}')")
            assert page.locator(".qr svg").is_visible()
            assert page.locator("#corner-join").is_hidden()
            check_texts(page, where)

        each("join", lobby)

        def corner(page, where):
            assert page.locator(".corner-qr svg").is_visible(), f"{where}: no corner QR code"
            box = page.locator(".corner-qr").bounding_box()
            assert box["height"] >= 0.13 * page.evaluate("() => innerHeight")
            assert page.locator("#corner-code").inner_text() == code

        # Propose and discuss: every candidate domain, page after page.
        for phase in ("propose", "discuss"):
            ws.act("phase", phase=phase)

            def domains(page, where, phase=phase):
                corner(page, where)
                page.wait_for_function(
                    f"() => document.querySelectorAll('#domains > li').length === {len(titles)}")
                seen = collect_over_pages(page, "domains", where, by_itself=phase == "propose")
                assert titles <= seen, f"{where}: never fully shown: {titles - seen}"

            each("domains", domains, phase)

        if extras:
            # A comment counts on its domain; hidden by the facilitator, it leaves the count;
            # restored, it is back.
            target = ws.domains[1]
            cid = ws.phones[0][1].call("comment", {"domain_id": target["domain_id"], "stance": "concern",
                                                   "text": "Water use must be measured first."})["comment_id"]
            count = "(Comments: 1)"
            item = f"#domains > li[data-key='{target['domain_id']}'] .count"
            for _name, page, _ctx in screens:
                page.wait_for_function(f"() => document.querySelector(\"{item}\").textContent === '{count}'")
            ws.act("moderate", comment_id=cid, action="hide")
            for _name, page, _ctx in screens:
                page.wait_for_function(f"() => document.querySelector(\"{item}\").textContent === ''")
            ws.act("moderate", comment_id=cid, action="restore")
            for _name, page, _ctx in screens:
                page.wait_for_function(f"() => document.querySelector(\"{item}\").textContent === '{count}'")

        # The vote, results hidden: "N of M have voted", live, beside the ballot.
        ws.act("phase", phase="vote")
        voted = ws.vote()

        def turnout(page, where):
            corner(page, where)
            expected = f"{voted} of {joined} have voted"
            page.wait_for_function(
                "(t) => document.getElementById('turnout').textContent === t", arg=expected)
            rows = page.locator("#turnout-helices li").all_inner_texts()
            for helix_label, (_h, j, v) in zip(
                    ["Business", "Academia and research", "Public administration", "Civil society",
                     "Environment and sustainability"], PEOPLE):
                assert any(helix_label in r and f"{v} of {j}" in r for r in rows), (helix_label, rows)
            seen = collect_over_pages(page, "domains", where)
            assert titles <= seen
            assert page.locator("#results-panel").is_hidden()

        each("vote", turnout)

        # Results shown during the vote, then the results phase: every ranked domain.
        ws.act("reveal", shown=True)

        def ranking(page, where):
            corner(page, where)
            page.wait_for_function(
                f"() => document.querySelectorAll('#rank-bars > li').length === {len(titles)}")
            chart_labels_apart(page, where)
            seen = collect_over_pages(page, "rank-bars", where)
            assert titles <= seen, f"{where}: never fully shown: {titles - seen}"

        def vote_results(page, where):
            corner(page, where)
            page.wait_for_function(
                "(t) => document.getElementById('turnout-line').textContent === t",
                arg=f"{voted} of {joined} have voted")
            legend = page.locator("#helix-legend li").all_inner_texts()
            assert any("Business" in x and "4 of 5" in x for x in legend), legend
            page.wait_for_function(
                f"() => document.querySelectorAll('#rank-bars > li').length === {len(titles)}")
            check_texts(page, where)

        each("results", vote_results, "vote-results")
        ws.act("phase", phase="results")
        each("results", ranking)

        if n_domains >= 40:
            # The Wi-Fi drops: the banner says so at the top, and the page still fits.
            _name, page, _ctx = screens[0]
            page.evaluate("""() => { const m = window.edpSocket.io;
                 m.reconnectionDelay(3000); m.reconnectionDelayMax(3000); m.randomizationFactor(0);
                 m.engine.close(); }""")
            page.wait_for_function("() => document.body.dataset.connected === 'no'")
            assert page.locator("#connection").inner_text() == "Offline — reconnecting…"
            assert_no_scroll(page, "offline")
            seen = collect_over_pages(page, "rank-bars", "offline")
            assert titles <= seen
            page.wait_for_function("() => document.body.dataset.connected === 'yes'")
            assert_no_scroll(page, "back online")

        if extras:
            # Any size in between (and a 4:3 one): the same checks after the page adapts.
            _name, page, _ctx = screens[0]
            for width, height in ((1366, 768), (1600, 900), (1024, 768), (1280, 720)):
                page.set_viewport_size({"width": width, "height": height})
                page.wait_for_function("(s) => document.body.dataset.layout === s", arg=f"{width}x{height}")
                where = f"{n_domains}-{width}x{height} results"
                assert_no_scroll(page, where)
                chart_labels_apart(page, where)
                seen = collect_over_pages(page, "rank-bars", where)
                assert titles <= seen, f"{where}: never fully shown: {titles - seen}"
                page.wait_for_function("() => document.getAnimations().length === 0")
                shot(page, f"{n_domains}-{width}x{height}-results")

        # Decide: every priority with its rationale and indicators.
        ws.act("phase", phase="decide")
        ws.decide(n_priorities)

        def priorities(page, where):
            corner(page, where)
            page.wait_for_function(
                f"() => document.querySelectorAll('#priorities > li').length === {n_priorities}")
            seen = collect_over_pages(page, "priorities", where)
            # One too long for a page is checked line by line (see long_lines).
            longs = page.evaluate("() => Array.from(document.querySelectorAll('#priorities > li.long'),"
                                  " li => Number(li.dataset.key))")
            for domain_id in longs:
                long_lines(page, domain_id, where)
            for rank, d in enumerate(ws.domains[:n_priorities], start=1):
                if d["domain_id"] not in longs:
                    assert f"Priority {rank}: {d['title']}" in seen, f"{where}: priority {rank} never shown"
            assert any(t.startswith("Monitoring indicators: Firms in the value chain") for t in seen)
            assert any(t.startswith("The region already has") for t in seen)

        each("priorities", priorities, "decide")

        if extras:
            # A rationale longer than a whole page (the longest the server takes): its lines
            # show one page after another, every one of them at some page.
            last = ws.domains[n_priorities - 1]
            text = " ".join(f"Reason {k}: the region's firms, universities and funders back it." for k in range(70))
            ws.act("decide", domain_id=last["domain_id"], rank=n_priorities, rationale=text[:5000],
                   indicators=INDICATORS)
            for name, page, _ctx in screens:
                page.wait_for_function(
                    f"() => document.querySelector('#priorities > li[data-key=\"{last['domain_id']}\"]')"
                    ".classList.contains('long')")
                lines = long_lines(page, last["domain_id"], f"{name} long rationale")
                assert len(lines) > 10
                page.keyboard.press("ArrowRight")  # the long one's second page
                page.wait_for_function("() => document.getAnimations().length === 0")
                shot(page, f"{name}-long-rationale")
        ws.act("phase", phase="closed")
        page_checks = [(name, page) for name, page, _ctx in screens]
        for name, page in page_checks:
            page.wait_for_function("() => document.body.dataset.phase === 'closed'")
        each("priorities", priorities, "closed")
        assert errors == [], errors
        for _name, _page, ctx in screens:
            ctx.close()
    finally:
        if ws:
            ws.close()
        server.stop()


def test_projector_with_3_domains_and_a_long_title(chromium, tmp_path):  # noqa: F811
    run(chromium, tmp_path, 3, 3, title=LONG_TITLE)


def test_projector_with_15_domains_and_5_priorities(chromium, tmp_path):  # noqa: F811
    run(chromium, tmp_path, 15, 5, extras=True)


def test_projector_with_40_domains_and_10_priorities(chromium, tmp_path):  # noqa: F811
    run(chromium, tmp_path, 40, 10)


if __name__ == "__main__":  # a look by hand: python tests/test_browser_screen.py 15 5
    import sys
    import tempfile

    from playwright.sync_api import sync_playwright
    from test_browser import CHROMIUM_ARGS

    with sync_playwright() as pw, tempfile.TemporaryDirectory() as tmp:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        started = time.monotonic()
        run(browser, Path(tmp), int(sys.argv[1]), int(sys.argv[2]), axe="--axe" in sys.argv,
            extras="--extras" in sys.argv, title=LONG_TITLE if "--long-title" in sys.argv else None)
        print(json.dumps({"seconds": round(time.monotonic() - started, 1)}))
        browser.close()
