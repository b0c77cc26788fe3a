// The projector: one viewport that never scrolls, read from the back of the room.
//
// Stages (body[data-stage]): the lobby's big join code; the candidate domains (propose,
// discuss); the vote's turnout ("N of M have voted", per group) beside the ballot; once shown,
// the results (an animated ranking of HTML bars split by helix, and the support-and-consensus
// chart); the agreed priorities (decide, closed). A small QR code and the join code stay in the
// header's corner on every stage but the lobby.
//
// A list longer than its box is cut into pages that turn by themselves (every `page.turn`
// seconds, `?turn=` on the URL) with a "2/3" indicator; the items of the other pages stay in
// the page for screen readers. → and ← (or Page Down / Page Up) turn the pages by hand, the
// space bar pauses them.
import {
  barAxisTitle, consensusChart, helixColour, helixName, helixSplit, kindOf, OTHER_GROUPS, pct, screenSizes, setupCharts,
} from "./charts.js";
import { addComment, dropComment, emit, h, keepNewerComments, num, onConnect, page, socket, syncList, t } from "./socket.js";
import { countdown } from "./timer.js";
import { compactText, hasEvidence, sectorFacts, sectorName, sourceText, strongest } from "./evidence.js";

const $ = (id) => document.getElementById(id);
const Chart = window.Chart;
const CHART_LIMIT = 15; // points on the support-and-consensus chart (the ranking lists them all)
const TURN_MS = Math.max(1, Number(page.turn) || 8) * 1000;

let sizes = screenSizes();
setupCharts(sizes);

let state = null;
let results = null;
let resultsVersion = 0;
const timer = countdown($("timer"));

onConnect(async () => {
  // On every (re)connection: join the workshop's room again and take a fresh snapshot.
  const ack = await emit("watch", { code: page.code });
  if (ack.ok) applyState(ack.state);
});
socket.on("state", applyState);
socket.on("comment", (c) => {
  if (addComment(state, c)) render();
});
socket.on("comment_hidden", (c) => {
  if (dropComment(state, c)) render();
});
socket.on("counts", (c) => {
  if (!state) return;
  state.counts = c.counts;
  state.total = c.total;
  if (c.voted !== undefined) state.voted = c.voted;
  if (c.voted_total !== undefined) state.voted_total = c.voted_total;
  renderCounts();
  renderTurnout();
  if (results && document.body.dataset.stage === "results") renderLegend();
});
socket.on("results", (r) => {
  results = r;
  render();
});

function applyState(s) {
  // Comments the facilitator hid since this page got them leave its copy first.
  if (state && Array.isArray(s.hidden_comments) && state.comments) {
    const hidden = new Set(s.hidden_comments);
    state.comments = state.comments.filter((c) => !hidden.has(c.comment_id));
  }
  state = keepNewerComments(state, s);
  results = s.results || null;
  timer.update(s.workshop);
  render();
}

function stageFor(phase) {
  const priorities = state.priorities || [];
  if ((phase === "decide" || phase === "closed") && priorities.length) return "priorities";
  if (phase === "vision") return "vision";
  if (results && phase !== "lobby" && phase !== "propose") return "results";
  if (phase === "lobby") return "join";
  if (phase === "vote") return "vote";
  return "domains";
}

const PANELS = {
  join: ["join-panel", "side"],
  domains: ["domains-panel", "side"],
  vote: ["turnout-panel", "domains-panel"],
  results: ["results-panel"],
  priorities: ["priorities-panel"],
  vision: ["vision-panel"],
};

function render() {
  if (!state) return;
  const phase = state.workshop.phase;
  const stage = stageFor(phase);
  document.body.dataset.phase = phase;
  document.body.dataset.stage = stage;
  $("phase-label").textContent = t(`phase_${phase}`);
  const shown = new Set(PANELS[stage]);
  swotInstead(stage, phase, shown);
  for (const id of ["join-panel", "turnout-panel", "results-panel", "domains-panel", "priorities-panel", "side", "vision-panel", "swot-panel"]) {
    $(id).hidden = !shown.has(id);
  }
  $("corner-join").hidden = stage === "join";
  $("ranking-panel").hidden = !results;
  const heading = phase === "propose" ? "propose" : stage === "vote" ? "vote" : "other";
  for (const span of $("domains-h").querySelectorAll("[data-heading]")) span.hidden = span.dataset.heading !== heading;

  renderCounts();
  renderTurnout();
  if (shown.has("domains-panel")) renderDomains(phase);
  if (stage === "priorities") renderPriorities();
  if (stage === "vision") renderVision();
  if (results) renderResults(stage === "results");
  for (const pager of pagers) if (pager !== rankPager || stage !== "results") pager.layout();
  if (!document.body.dataset.layout) document.body.dataset.layout = `${innerWidth}x${innerHeight}`;
}

// ---------------------------------------------------------------- pages

const reducedMotion = window.matchMedia ? window.matchMedia("(prefers-reduced-motion: reduce)") : { matches: false };

/**
 * A list cut into pages that fit its box. Items are measured as laid out (one column, or two
 * when the list is wide and one column needs several pages), rows are packed into pages, and
 * the items of the other pages get `.off-page` (out of view, still read by screen readers). An
 * item taller than the whole box (a priority with a very long rationale) is laid out in
 * box-high columns, and each column is a page of its own.
 */
class Pager {
  constructor(list, { maxCols = 1, minColumn = 14 } = {}) {
    this.list = list;
    this.maxCols = maxCols;
    this.minColumn = minColumn; // em: narrower columns would break titles into too many lines
    this.indicator = document.querySelector(`.pager[data-pager="${list.id}"]`);
    this.pages = [{ items: [] }];
    this.index = 0;
    // Whatever changes the list's box (the offline banner, a legend that wraps, the window):
    // the pages are cut again.
    let box = "";
    if (window.ResizeObserver) {
      new ResizeObserver(() => {
        const now = `${list.clientWidth}x${list.clientHeight}`;
        if (now !== box) {
          box = now;
          this.layout();
        }
      }).observe(list);
    }
  }

  rows(cols) {
    this.list.style.setProperty("--cols", String(cols));
    this.list.dataset.cols = String(cols);
    const items = Array.from(this.list.children);
    for (const li of items) {
      li.classList.remove("off-page");
      if (li.classList.contains("long")) unflow(li);
    }
    const heights = items.map((li) => li.getBoundingClientRect().height);
    const rows = [];
    for (let i = 0; i < items.length; i += cols) {
      rows.push({ items: items.slice(i, i + cols), height: Math.max(...heights.slice(i, i + cols)) });
    }
    return rows;
  }

  pack(rows, room, gap) {
    const pages = [];
    let current = null;
    let used = 0;
    for (const row of rows) {
      if (row.height > room + 1) {
        // Too tall for any page: it gets pages of its own (see flow()).
        current = null;
        for (const li of row.items) pages.push(...flow(li, room).map((frag) => ({ items: [li], frag })));
        continue;
      }
      if (current && used + gap + row.height <= room + 1) {
        used += gap + row.height;
        current.items.push(...row.items);
      } else {
        current = { items: [...row.items] };
        pages.push(current);
        used = row.height;
      }
    }
    return pages.length ? pages : [{ items: [] }];
  }

  /** As few pages as fit, then evened out (7, 7, 6 rows rather than 7, 7, 7, 1... or 1, 2, 2):
   * the first pages get one row more where the rows do not split evenly. */
  balanced(rows, room, gap) {
    const pages = this.pack(rows, room, gap);
    if (pages.length < 2 || pages.some((page) => page.frag)) return pages;
    const even = [];
    let next = 0;
    for (let k = 0; k < pages.length; k += 1) {
      const count = Math.floor(rows.length / pages.length) + (k < rows.length % pages.length ? 1 : 0);
      const group = rows.slice(next, next + count);
      next += count;
      const height = group.reduce((sum, row) => sum + row.height, 0) + gap * (group.length - 1);
      if (height > room + 1) return pages; // the rows are too uneven: keep the greedy pages
      even.push({ items: group.flatMap((row) => row.items) });
    }
    return even;
  }

  layout() {
    const list = this.list;
    if (list.offsetParent === null) return;
    const room = list.clientHeight;
    const gap = parseFloat(getComputedStyle(list).rowGap) || 0;
    const em = parseFloat(getComputedStyle(list).fontSize) || 16;
    let pages = this.balanced(this.rows(1), room, gap);
    if (pages.length > 1 && this.maxCols > 1 && list.clientWidth >= 2 * this.minColumn * em) {
      const two = this.balanced(this.rows(2), room, gap);
      // An item too long for a page reads better across the whole width: one column then.
      if (two.some((page) => page.frag)) pages = this.balanced(this.rows(1), room, gap);
      else pages = two;
    }
    const before = this.pages.length;
    this.pages = pages;
    if (pages.length !== before) this.index = Math.min(this.index, pages.length - 1);
    this.show(false);
  }

  show(animate) {
    const current = this.pages[this.index] || this.pages[0];
    const on = new Set(current.items);
    for (const li of this.list.children) {
      li.classList.toggle("off-page", !on.has(li));
      if (li.classList.contains("long") && on.has(li) && current.frag) showFragment(li, current.frag);
    }
    const many = this.pages.length > 1;
    this.list.dataset.page = String(this.index + 1);
    this.list.dataset.pages = String(this.pages.length);
    if (this.indicator) {
      this.indicator.hidden = !many;
      this.indicator.dataset.paused = paused ? "yes" : "no";
      this.indicator.querySelector(".pager-n").textContent = `${this.index + 1}/${this.pages.length}`;
      const words = t("page_of", { page: this.index + 1, pages: this.pages.length });
      this.indicator.querySelector(".pager-words").textContent = paused ? `${words} (${t("paused")})` : words;
    }
    if (animate && !reducedMotion.matches) {
      this.list.classList.remove("turning");
      void this.list.offsetWidth; // restart the fade
      this.list.classList.add("turning");
    }
  }

  turn(step) {
    if (this.pages.length < 2 || this.list.offsetParent === null) return;
    this.index = (this.index + step + this.pages.length) % this.pages.length;
    this.show(true);
  }
}

/** Lay out an over-tall item in columns `room` px high; one fragment (page) per column. */
function flow(li, room) {
  const box = li.querySelector(".flow");
  if (!box) return [null];
  li.classList.add("long");
  const width = box.clientWidth;
  const gap = Math.round(width * 0.1);
  li.style.height = `${room}px`;
  box.style.height = `${room}px`;
  box.style.columnWidth = `${width}px`;
  box.style.columnGap = `${gap}px`;
  box.style.width = `${width}px`;
  const count = Math.max(1, Math.round((box.scrollWidth + gap) / (width + gap)));
  return Array.from({ length: count }, (_, k) => ({ k, step: width + gap, count }));
}

function unflow(li) {
  const box = li.querySelector(".flow");
  li.classList.remove("long");
  li.style.height = "";
  if (box) {
    for (const prop of ["height", "columnWidth", "columnGap", "width", "transform"]) box.style[prop] = "";
  }
}

function showFragment(li, frag) {
  const box = li.querySelector(".flow");
  if (box) box.style.transform = `translateX(${-frag.k * frag.step}px)`;
}

const domainPager = new Pager($("domains"), { maxCols: 2 });
const rankPager = new Pager($("rank-bars"));
const priorityPager = new Pager($("priorities"), { maxCols: 2, minColumn: 16 });
const pagers = [domainPager, rankPager, priorityPager];
// (the vision's statements and the SWOT card join them below, see "the method")

let paused = false;
let turnTimer = null;
function restartTurns() {
  clearInterval(turnTimer);
  turnTimer = setInterval(() => {
    if (!paused) for (const pager of pagers) pager.turn(1);
  }, TURN_MS);
}
restartTurns();

document.addEventListener("keydown", (event) => {
  if (event.altKey || event.ctrlKey || event.metaKey) return;
  const step = { ArrowRight: 1, PageDown: 1, ArrowLeft: -1, PageUp: -1 }[event.key];
  if (step) {
    for (const pager of pagers) pager.turn(step);
    restartTurns();
    event.preventDefault();
  } else if (event.key === " ") {
    paused = !paused;
    document.body.dataset.paused = paused ? "yes" : "no";
    for (const pager of pagers) pager.show(false);
    if (!paused) restartTurns();
    event.preventDefault();
  }
});

let resizeTimer = null;
window.addEventListener("resize", () => {
  clearTimeout(resizeTimer);
  resizeTimer = setTimeout(() => {
    sizes = screenSizes();
    setupCharts(sizes);
    const chart = Chart && Chart.getChart($("consensus-chart"));
    if (chart) chart.destroy();
    render();
    document.body.dataset.layout = `${innerWidth}x${innerHeight}`; // laid out for this size
  }, 150);
});
if (document.fonts && document.fonts.ready) document.fonts.ready.then(() => render());

// ---------------------------------------------------------------- counts and turnout

/** A translated sentence with its {numbers} as big figures, e.g. "<12> of <40> have voted". */
function figures(key, vars) {
  const text = (page.strings || {})[key] || key;
  return text.split(/\{(\w+)\}/).map((part, i) =>
    (i % 2 ? h("span", { class: "n" }, part in vars ? String(vars[part]) : `{${part}}`) : part));
}

function renderCounts() {
  const rows = (page.helices || []).map((x) => ({ key: x.key, label: helixName(x.key), value: (state.counts || {})[x.key] || 0 }));
  const max = Math.max(1, ...rows.map((r) => r.value));
  syncList($("counts"), rows, (r) => r.key,
    () => h("li", { class: "bar-row" },
      h("span", { class: "bar-label" }), h("span", { class: "bar-value" }),
      h("span", { class: "bar-track", "aria-hidden": "true" }, h("span", { class: "bar-fill" }))),
    (li, r) => {
      li.querySelector(".bar-label").textContent = r.label;
      li.querySelector(".bar-value").textContent = num(r.value);
      li.querySelector(".bar-fill").style.width = `${(100 * r.value) / max}%`;
    });
  $("total").textContent = t("participants_total", { n: state.total });
}

/** Participants of each helix who cast anything: from `counts`/`state`, else the results. */
function votedBy() {
  if (state.voted) return state.voted;
  return (results && results.participation) || {};
}

function votedTotal() {
  if (typeof state.voted_total === "number") return state.voted_total;
  return Object.values(votedBy()).reduce((sum, n) => sum + (Number(n) || 0), 0);
}

function renderTurnout() {
  const voting = state.workshop.phase === "vote";
  const n = votedTotal();
  const total = state.total || 0;
  const line = $("turnout-line");
  line.hidden = !voting;
  if (voting) {
    line.replaceChildren(...figures("have_voted", { n: num(n), total: num(total) }));
    $("turnout").replaceChildren(...figures("have_voted", { n: num(n), total: num(total) }));
    $("turnout-fill").style.width = `${total ? Math.min(100, (100 * n) / total) : 0}%`;
  }
  const voted = votedBy();
  const rows = (page.helices || [])
    .map((x) => ({ key: x.key, joined: (state.counts || {})[x.key] || 0, voted: voted[x.key] || 0 }))
    .filter((r) => r.joined > 0 || r.voted > 0);
  syncList($("turnout-helices"), rows, (r) => r.key,
    () => h("li", { class: "bar-row" },
      h("span", { class: "bar-label" }), h("span", { class: "bar-value" }),
      h("span", { class: "bar-track", "aria-hidden": "true" }, h("span", { class: "bar-fill" }))),
    (li, r) => {
      li.querySelector(".bar-label").textContent = helixName(r.key);
      li.querySelector(".bar-value").textContent = t("voted_of_joined", { voted: num(r.voted), joined: num(r.joined) });
      li.querySelector(".bar-fill").style.width = `${r.joined ? Math.min(100, (100 * r.voted) / r.joined) : 0}%`;
    });
}

// ---------------------------------------------------------------- domains and priorities

function renderDomains(phase) {
  const approved = state.domains.filter((d) => d.status === "approved");
  // While proposals come in, the newest is on top (on the first page).
  const domains = phase === "propose" ? approved.slice().reverse() : approved;
  const empty = $("no-domains");
  empty.hidden = domains.length > 0;
  empty.textContent = t("no_domains");
  syncList($("domains"), domains, (d) => d.domain_id,
    () => h("li", {}, h("span", { class: "title" }), " ", h("span", { class: "count" }), h("span", { class: "evidence-line" })),
    (li, d) => {
      li.querySelector(".title").textContent = d.title;
      li.querySelector(".count").textContent = d.comments ? `(${t("comments_count", { n: d.comments })})` : "";
      fillEvidenceLine(li.querySelector(".evidence-line"), d);
    });
}

function renderPriorities() {
  syncList($("priorities"), state.priorities, (p) => p.domain_id,
    () => h("li", { class: "priority" },
      h("div", { class: "flow" }, h("h3", { class: "title" }), h("p", { class: "rationale" }), h("p", { class: "indicator-line" }),
        h("p", { class: "evidence-line" }))),
    (li, p) => {
      fillEvidenceLine(li.querySelector(".evidence-line"), domainOf(p.domain_id));
      li.querySelector(".title").textContent = `${t("priority_n", { rank: p.rank })}: ${p.title}`;
      li.querySelector(".rationale").textContent = p.rationale;
      // The indicators' names (baselines and targets are in the exports and on the phones).
      const names = (p.indicators || []).map((x) => (x && typeof x === "object" ? x.name : x)).filter(Boolean);
      const line = li.querySelector(".indicator-line");
      line.textContent = names.length ? `${t("indicators")}: ${names.join(" · ")}` : "";
      line.hidden = !names.length;
    });
}

// ---------------------------------------------------------------- results

// Plain words for why a domain is where it is (the chart shows it as a marker shape).
const kindWords = { one_helix: () => t("kind_one_helix"), polarised: () => t("kind_polarised"), broad: () => "" };

/**
 * Re-render a list and slide every row that stays on the page from where it was to where it
 * is now (FLIP: first, last, invert, play). Bar widths animate by their own CSS transition.
 */
function withFlip(list, update) {
  const visible = (li) => !li.classList.contains("off-page");
  const before = new Map(Array.from(list.children).filter(visible).map((li) => [li.dataset.key, li.getBoundingClientRect().top]));
  update();
  if (reducedMotion.matches || list.offsetParent === null) return;
  const moved = [];
  for (const li of list.children) {
    const top = before.get(li.dataset.key);
    if (top === undefined || !visible(li)) continue;
    const dy = top - li.getBoundingClientRect().top;
    if (Math.abs(dy) < 1) continue;
    li.classList.remove("flip-play");
    li.style.transform = `translateY(${dy}px)`;
    moved.push(li);
  }
  if (!moved.length) return;
  void list.offsetHeight; // apply the inverted positions before playing
  for (const li of moved) {
    li.classList.add("flip-play");
    li.style.transform = "";
  }
}

/** The helix legend (colours of the bar segments). During the vote it says, per helix, how
 * many of those who joined have voted; afterwards how many voted. */
function renderLegend() {
  const participation = results.participation || {};
  const voting = state.workshop.phase === "vote";
  const voted = votedBy();
  const keys = (page.helices || []).map((x) => x.key)
    .filter((key) => participation[key] > 0 || (voting && (state.counts || {})[key] > 0));
  // Helices too small to be shown on their own come pooled as one bucket (privacy).
  if (participation[OTHER_GROUPS] > 0 && !keys.includes(OTHER_GROUPS)) keys.push(OTHER_GROUPS);
  syncList($("helix-legend"), keys.map((key) => ({ key })), (x) => x.key,
    () => h("li", {},
      h("span", { class: "swatch", "aria-hidden": "true" }), h("span", { class: "legend-label" }), " ",
      h("span", { class: "legend-n", "aria-hidden": "true" }), h("span", { class: "legend-voters visually-hidden" })),
    (li, x) => {
      li.querySelector(".swatch").style.backgroundColor = helixColour(x.key);
      li.querySelector(".legend-label").textContent = helixName(x.key);
      const pooled = x.key === OTHER_GROUPS && !(page.helices || []).some((y) => y.key === x.key);
      const byHead = voting && !pooled; // the pool has no head count of its own
      const n = byHead ? voted[x.key] || 0 : participation[x.key] || 0;
      const joined = (state.counts || {})[x.key] || 0;
      li.querySelector(".legend-n").textContent = byHead ? t("voted_of_joined", { voted: num(n), joined: num(joined) }) : num(n);
      li.querySelector(".legend-voters").textContent = byHead
        ? `(${t("voters_value", { n })}; ${t("participants_total", { n: joined })})`
        : `(${t("voters_value", { n })})`;
    });
}

function renderRanking(ranking) {
  const method = results.method;
  // Score is a 1..5 mean: its bars keep the absolute scale; points scale to the leader.
  const max = method === "score" ? 5 : Math.max(1e-9, ...ranking.map((r) => Number(r.score) || 0));
  $("rank-caption").textContent = method === "score" ? t("axis_score_split") : barAxisTitle(method);
  renderLegend();
  withFlip($("rank-bars"), () => {
    syncList($("rank-bars"), ranking, (r) => r.domain_id,
      () => h("li", { class: "rank-row" },
        h("span", { class: "rank-pos", "aria-hidden": "true" }),
        h("div", { class: "rank-main" },
          h("p", { class: "rank-head" }, h("span", { class: "title" }), " ", h("span", { class: "rank-score" })),
          h("div", { class: "rank-line" },
            h("span", { class: "rank-track", "aria-hidden": "true" }),
            h("p", { class: "rank-meta" })),
          h("p", { class: "rank-funding" }),
          h("p", { class: "evidence-line rank-evidence" }),
          h("p", { class: "rank-split visually-hidden" }))),
      (li, r) => {
        li.querySelector(".rank-pos").textContent = String(ranking.indexOf(r) + 1);
        li.querySelector(".title").textContent = r.title;
        li.querySelector(".rank-score").textContent = num(r.score);
        const parts = helixSplit(results, r);
        syncList(li.querySelector(".rank-track"), parts, (part) => part.key,
          (part) => h("span", { class: "seg", "data-helix": part.key }),
          (seg, part) => {
            seg.style.backgroundColor = helixColour(part.key);
            seg.style.width = `${Math.max(0, (100 * part.value) / max)}%`;
          });
        const meta = [];
        if (r.voters) {
          meta.push(t("balanced_value", { score: num(r.balanced_score) }));
          // With one helix behind it the words say more; with one helix voting there is none.
          if (kindOf(r) !== "one_helix" && r.consensus != null) meta.push(t("consensus_value", { value: pct(r.consensus) }));
          const kind = kindWords[kindOf(r)]();
          if (kind) meta.push(kind);
        } else {
          meta.push(t("no_votes_for"));
        }
        li.querySelector(".rank-meta").textContent = meta.join(" · ");
        li.dataset.kind = r.voters ? kindOf(r) : "none";
        fillRankFunding(li.querySelector(".rank-funding"), r.funding, ranking);
        fillEvidenceLine(li.querySelector(".rank-evidence"), domainOf(r.domain_id));
        li.querySelector(".rank-split").textContent = parts.filter((part) => part.value > 0)
          .map((part) => `${helixName(part.key)}: ${num(part.value)}`).join("; ");
      });
    rankPager.layout();
  });
}

function renderResults(onStage) {
  const ranking = results.ranking || [];
  // The whole ranking in words, for screen readers (the bars show it a page at a time).
  syncList($("ranking"), ranking, (r) => r.domain_id,
    () =>
      h("li", {},
        h("span", { class: "title" }), " ",
        h("span", { class: "score" }), " ",
        h("span", { class: "balanced" }), " ",
        h("span", { class: "consensus" }), " ",
        h("span", { class: "kind" }), " ",
        h("span", { class: "funding" }), " ",
        h("span", { class: "evidence-words" })),
    (li, r) => {
      li.querySelector(".title").textContent = r.title;
      li.querySelector(".score").textContent = t("score_value", { score: num(r.score) });
      li.querySelector(".balanced").textContent = `· ${t("balanced_value", { score: num(r.balanced_score) })}`;
      li.querySelector(".consensus").textContent = r.voters && r.consensus != null ? `· ${t("consensus_value", { value: pct(r.consensus) })}` : "";
      const kind = kindWords[kindOf(r)]();
      li.querySelector(".kind").textContent = kind ? `· ${kind}` : "";
      li.querySelector(".funding").textContent = fundingWords(r.funding, ranking);
      const d = domainOf(r.domain_id);
      li.querySelector(".evidence-words").textContent = hasEvidence(d) ? `· ${t("evidence_title")}: ${compactText(d)}` : "";
    });
  if (onStage) {
    renderRanking(ranking);
    const supported = ranking.filter((r) => r.balanced_score > 0).length;
    $("consensus-caption").textContent = supported > CHART_LIMIT
      ? t("chart_numbers_top", { n: CHART_LIMIT }) : t("chart_numbers");
    if (Chart) window.edpConsensusChart = consensusChart($("consensus-chart"), results, sizes, CHART_LIMIT);
  }
  resultsVersion += 1;
  document.body.dataset.resultsVersion = String(resultsVersion);
}

/** The chart's labels and markers in page pixels (for tests and for a look in the console). */
function chartBoxes(which) {
  const canvas = $("consensus-chart");
  const chart = Chart && Chart.getChart(canvas);
  if (!chart || !chart[which]) return [];
  const at = canvas.getBoundingClientRect();
  return chart[which].map((b) => ({ ...b, left: at.left + b.x, top: at.top + b.y, width: b.w, height: b.h }));
}
Object.defineProperty(window, "edpChartLabels", { get: () => chartBoxes("$edpLabels") });
Object.defineProperty(window, "edpChartMarkers", { get: () => chartBoxes("$edpMarkers") });
/** How many items each page of each list holds (for tests and a look from the browser's console). */
window.edpPages = () => Object.fromEntries(pagers.map((p) => [p.list.id, p.pages.map((page) => page.items.length)]));

// ---------------------------------------------------------------- the method: vision, SWOT, funders' signal

const VISION_LIMIT = 20; // statements on the stage: the adopted ones, then the broadest agreement
const QUADRANTS = ["strength", "weakness", "opportunity", "threat"];
const SIGNALS = ["yes", "maybe", "no"];

socket.on("vision", (v) => {
  if (!state || !v) return;
  state.vision = v.statements || [];
  render();
});
socket.on("swot", (item) => {
  if (!state || !item) return;
  const d = (state.domains || []).find((x) => x.domain_id === item.domain_id);
  if (!d) return;
  d.swot = d.swot || [];
  if (d.swot.some((x) => x.item_id === item.item_id)) return;
  d.swot.push(item);
  render();
});

/** The statements, as the server orders them (adopted first, then by agreement across groups). */
function renderVision() {
  const all = state.vision || [];
  const top = all.slice(0, VISION_LIMIT);
  const empty = $("no-statements");
  empty.hidden = all.length > 0;
  empty.textContent = t("no_statements_screen");
  $("vision-caption").textContent = all.length > top.length ? t("vision_top", { n: top.length, total: all.length }) : "";
  syncList($("statements"), top, (s) => s.statement_id,
    () => h("li", { class: "statement" },
      h("p", { class: "st-text" }),
      h("div", { class: "st-line" },
        h("span", { class: "adopted-badge" }),
        h("span", { class: "agree-track", "aria-hidden": "true" }, h("span", { class: "agree-fill" })),
        h("p", { class: "st-meta" }))),
    (li, s) => {
      li.dataset.adopted = s.adopted ? "yes" : "no";
      li.querySelector(".st-text").textContent = s.text;
      const badge = li.querySelector(".adopted-badge");
      badge.textContent = s.adopted ? t("adopted") : "";
      badge.hidden = !s.adopted;
      const known = s.agreement !== null && s.agreement !== undefined;
      li.querySelector(".agree-track").hidden = !known;
      li.querySelector(".agree-fill").style.width = `${known ? Math.round(100 * s.agreement) : 0}%`;
      const meta = [];
      if (known) meta.push(t("agreement_value", { value: pct(s.agreement) }));
      meta.push(t("reaction_counts", { agree: num(s.agree), disagree: num(s.disagree), pass: num(s.pass) }));
      li.querySelector(".st-meta").textContent = meta.join(" · ");
    });
}

// One column: the statements read top to bottom in the order of their agreement.
const visionPager = new Pager($("statements"));
pagers.push(visionPager);

// SWOT: while domains are proposed and discussed, the card beside the domains shows one
// domain's SWOT in four quadrants, each item with the helix behind it. Domain after domain,
// like a page; a domain with more than its quadrants hold takes several pages, and an item too
// long for a quadrant gets a page where its quadrant has the whole card.

/** The approved domains with SWOT items, in the ballot's order; in discuss, also those with the
 * region's evidence (the card then shows the evidence over a SWOT still to be written). */
const swotDomains = (phase) => (state.domains || []).filter((d) => d.status === "approved"
  && ((d.swot || []).length || (phase === "discuss" && hasEvidence(d))));

/** In propose and discuss, the SWOT card takes the place of the counts once there is a SWOT
 * (or, in discuss, evidence). */
function swotInstead(stage, phase, shown) {
  const domains = swotDomains(phase);
  const on = stage === "domains" && (phase === "propose" || phase === "discuss") && domains.length > 0;
  document.body.dataset.swot = on ? "yes" : "no";
  if (!on) return;
  shown.delete("side");
  shown.add("swot-panel");
  swotRotation.domains = domains;
}

class SwotRotation {
  constructor(card) {
    this.list = card; // (named like a Pager's list: the key and timer code turns both alike)
    this.indicator = document.querySelector('.pager[data-pager="swot-card"]');
    this.domains = [];
    this.slides = [];
    this.pages = [{ items: [] }];
    this.index = 0;
    let box = "";
    if (window.ResizeObserver) {
      new ResizeObserver(() => {
        const now = `${card.clientWidth}x${card.clientHeight}`;
        if (now !== box) {
          box = now;
          this.layout();
        }
      }).observe(card);
    }
  }

  quadrant(q) {
    return this.list.querySelector(`.quadrant[data-quadrant="${q}"]`);
  }

  /** Put `items` (per quadrant) on the card; `all` says which quadrants have none at all. */
  fill(items, all) {
    for (const q of QUADRANTS) {
      const mine = items[q] || [];
      const section = this.quadrant(q);
      section.dataset.empty = (all[q] || []).length ? "no" : "yes";
      syncList(section.querySelector(".swot-list"), mine, (x) => x.item_id,
        () => h("li", { class: "swot-item" }, h("span", { class: "swot-text" }), " ", h("span", { class: "swot-helix" })),
        (li, x) => {
          li.querySelector(".swot-text").textContent = x.text;
          li.querySelector(".swot-helix").textContent = x.helix ? `(${helixName(x.helix)})` : "";
        });
      if (!mine.length && !(all[q] || []).length) {
        section.querySelector(".swot-list").replaceChildren(h("li", { class: "swot-none" }, t("swot_quadrant_empty")));
      }
    }
  }

  /** One domain's pages: its items measured in their quadrants and packed page by page. */
  cut(d) {
    const all = Object.fromEntries(QUADRANTS.map((q) => [q, (d.swot || []).filter((x) => x.quadrant === q)]));
    $("swot-domain").textContent = d.title; // a title on two lines leaves the quadrants less room
    fillSwotEvidence(d); // so does the evidence strip
    this.list.dataset.solo = "";
    this.fill(all, all);
    const chunks = {};
    const solos = [];
    let parts = 0;
    for (const q of QUADRANTS) {
      const ul = this.quadrant(q).querySelector(".swot-list");
      const room = ul.clientHeight;
      const gap = parseFloat(getComputedStyle(ul).rowGap) || 0;
      chunks[q] = [];
      let current = null;
      let used = 0;
      Array.from(ul.children).forEach((li, k) => {
        const item = all[q][k];
        if (!item) return;
        const height = li.getBoundingClientRect().height;
        if (height > room + 1) {
          solos.push({ q, item });
        } else if (current && used + gap + height <= room + 1) {
          used += gap + height;
          current.push(item);
        } else {
          current = [item];
          chunks[q].push(current);
          used = height;
        }
      });
      parts = Math.max(parts, chunks[q].length);
    }
    if (!parts && !solos.length) parts = 1; // evidence and no SWOT yet: one page all the same
    const slides = [];
    for (let k = 0; k < parts; k += 1) {
      slides.push({ domain: d, all, key: `${d.domain_id}:${k}`, items: Object.fromEntries(QUADRANTS.map((q) => [q, chunks[q][k] || []])) });
    }
    solos.forEach((s, k) => slides.push({ domain: d, all, key: `${d.domain_id}:s${k}`, solo: s.q, items: { [s.q]: [s.item] } }));
    return slides;
  }

  layout() {
    if (this.list.offsetParent === null) return;
    const before = this.slides[this.index];
    this.slides = this.domains.flatMap((d) => this.cut(d));
    this.pages = this.slides.length ? this.slides.map((s) => ({ items: QUADRANTS.flatMap((q) => s.items[q] || []) })) : [{ items: [] }];
    // Stay on the page (or at least the domain) on the screen now.
    let index = before ? this.slides.findIndex((s) => s.key === before.key) : 0;
    if (index < 0 && before) index = this.slides.findIndex((s) => s.domain.domain_id === before.domain.domain_id);
    this.index = Math.max(0, Math.min(index, this.slides.length - 1));
    this.show(false);
  }

  show(animate) {
    const slide = this.slides[this.index];
    const n = this.slides.length;
    this.list.dataset.page = String(this.index + 1);
    this.list.dataset.pages = String(Math.max(1, n));
    if (this.indicator) {
      this.indicator.hidden = n < 2;
      this.indicator.dataset.paused = paused ? "yes" : "no";
      this.indicator.querySelector(".pager-n").textContent = `${this.index + 1}/${n}`;
      const words = t("page_of", { page: this.index + 1, pages: n });
      this.indicator.querySelector(".pager-words").textContent = paused ? `${words} (${t("paused")})` : words;
    }
    if (!slide) return;
    $("swot-domain").textContent = slide.domain.title;
    fillSwotEvidence(slide.domain);
    this.list.dataset.domain = String(slide.domain.domain_id);
    this.list.dataset.solo = slide.solo || "";
    this.fill(slide.items, slide.all);
    if (animate && !reducedMotion.matches) {
      this.list.classList.remove("turning");
      void this.list.offsetWidth; // restart the fade
      this.list.classList.add("turning");
    }
  }

  turn(step) {
    if (this.slides.length < 2 || this.list.offsetParent === null) return;
    this.index = (this.index + step + this.slides.length) % this.slides.length;
    this.show(true);
  }
}

const swotRotation = new SwotRotation($("swot-card"));
pagers.push(swotRotation);

// The funders' signal in the ranking: yes / maybe / no beside support, an axis of its own.

const fundingTotal = (f) => (f ? SIGNALS.reduce((n, k) => n + (Number(f[k]) || 0), 0) : 0);
/** Whether any domain of the ranking has a funders' signal (else the line is left out). */
const anyFunding = (ranking) => ranking.some((r) => fundingTotal(r.funding) > 0);

function fillRankFunding(el, f, ranking) {
  el.hidden = !anyFunding(ranking);
  if (el.hidden) return;
  const counts = { yes: num((f && f.yes) || 0), maybe: num((f && f.maybe) || 0), no: num((f && f.no) || 0) };
  const text = (page.strings || {}).funding_counts || "funding_counts";
  // "Funders: 2 yes · 1 maybe · 0 no", each count with its signal's colour.
  el.replaceChildren(...text.split(/\{(\w+)\}/).map((part, i) =>
    (i % 2 ? h("span", { class: "fund-n", "data-signal": part }, part in counts ? counts[part] : `{${part}}`) : part)));
}

function fundingWords(f, ranking) {
  if (!anyFunding(ranking)) return "";
  return `· ${t("funding_counts", { yes: (f && f.yes) || 0, maybe: (f && f.maybe) || 0, no: (f && f.no) || 0 })}`;
}
/** The SWOT card's pages: each one's domain and the texts it shows (for tests and a look by hand). */
window.edpSwotSlides = () => swotRotation.slides.map((s) => ({
  domain: s.domain.domain_id, solo: s.solo || null, texts: QUADRANTS.flatMap((q) => (s.items[q] || []).map((x) => x.text)),
}));

// ---------------------------------------------------------------- the region's evidence (issue #17)

/** A domain of the state by id (the ranking and the priorities carry only ids and titles). */
const domainOf = (id) => (state && state.domains ? state.domains.find((d) => d.domain_id === id) : null) || null;

/** The compact evidence under a domain: its strongest sector and that sector's RCA, or nothing. */
function fillEvidenceLine(el, d) {
  const text = hasEvidence(d) ? compactText(d) : "";
  if (el.textContent !== text) el.textContent = text;
  el.hidden = !text;
  if (text) el.setAttribute("title", sourceText(d.evidence));
}

/** The SWOT card's strip: the shown domain's strongest sector with its figures, and the source. */
function fillSwotEvidence(d) {
  const el = $("swot-evidence");
  const top = hasEvidence(d) ? strongest(d) : null;
  el.hidden = !top;
  if (!top) {
    el.replaceChildren();
    return;
  }
  const facts = sectorFacts(top);
  const source = sourceText(d.evidence);
  el.replaceChildren(
    h("span", { class: "ev-name" }, sectorName(top)),
    facts.length ? h("span", { class: "ev-facts" }, ` · ${facts.join(" · ")}`) : "",
    source ? h("span", { class: "ev-source" }, ` · ${source}`) : "");
}
