// The projector: join code and QR, live counts, domains, the phase countdown and, once the
// facilitator shows them, the results: an animated ranking (HTML bars split by helix, which
// slide to their new place when the order changes) and the support-and-consensus chart.
import { SIZES, barAxisTitle, consensusChart, helixColour, helixSplit, kindOf, pct, setupCharts } from "./charts.js";
import { addComment, countRows, keepNewerComments, emit, h, helixLabel, num, onConnect, page, renderBars, socket, syncList, t } from "./socket.js";
import { countdown } from "./timer.js";

const $ = (id) => document.getElementById(id);
const Chart = window.Chart;
setupCharts(SIZES.screen);

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
socket.on("counts", (c) => {
  if (!state) return;
  state.counts = c.counts;
  state.total = c.total;
  renderCounts();
});
socket.on("results", (r) => {
  results = r;
  render();
});

function applyState(s) {
  state = keepNewerComments(state, s);
  results = s.results || null;
  timer.update(s.workshop);
  render();
}

function stageFor(phase) {
  const priorities = state.priorities || [];
  if ((phase === "decide" || phase === "closed") && priorities.length) return "priorities";
  if (results && phase !== "lobby" && phase !== "propose") return "results";
  if (phase === "lobby" || phase === "propose") return "join";
  return "domains";
}

function render() {
  if (!state) return;
  const phase = state.workshop.phase;
  const stage = stageFor(phase);
  document.body.dataset.phase = phase;
  document.body.dataset.stage = stage;
  $("phase-label").textContent = t(`phase_${phase}`);
  for (const name of ["join", "results", "domains", "priorities"]) $(`${name}-panel`).hidden = name !== stage;
  // The results stage has the whole width; its legend is the helix meter (voters per helix).
  const showRanking = Boolean(results) && stage === "priorities";
  $("side").hidden = stage === "results";
  $("ranking-panel").hidden = !showRanking;
  $("counts-panel").hidden = showRanking;
  $("side-domains-panel").hidden = phase !== "propose";
  $("join-strip").hidden = stage === "join" || phase === "closed";
  renderCounts();
  const approved = state.domains.filter((d) => d.status === "approved");
  if (stage === "domains") renderDomains($("domains"), approved);
  if (phase === "propose") renderDomains($("side-domains"), approved.slice().reverse());
  if (stage === "priorities") renderPriorities();
  if (results) renderResults(stage === "results");
}

function renderCounts() {
  renderBars($("counts"), countRows(state.counts));
  $("total").textContent = t("participants_total", { n: state.total });
}

function renderDomains(list, domains) {
  syncList(list, domains, (d) => d.domain_id,
    () => h("li", {}, h("span", { class: "title" }), " ", h("span", { class: "count" })),
    (li, d) => {
      li.querySelector(".title").textContent = d.title;
      li.querySelector(".count").textContent = d.comments ? `(${t("comments_count", { n: d.comments })})` : "";
    });
}

function renderPriorities() {
  syncList($("priorities"), state.priorities, (p) => p.domain_id,
    () => h("li", { class: "priority" }, h("h3", { class: "title" }), h("p", { class: "rationale" }),
      h("p", { class: "indicator-line" })),
    (li, p) => {
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

const reducedMotion = window.matchMedia ? window.matchMedia("(prefers-reduced-motion: reduce)") : { matches: false };

/**
 * Re-render a list and slide every row from where it was to where it is now (FLIP: first,
 * last, invert, play). Bar widths animate by their own CSS transition.
 */
function withFlip(list, update) {
  const before = new Map(Array.from(list.children, (li) => [li.dataset.key, li.getBoundingClientRect().top]));
  update();
  if (reducedMotion.matches || list.offsetParent === null) return;
  const moved = [];
  for (const li of list.children) {
    const top = before.get(li.dataset.key);
    if (top === undefined) continue;
    const dy = top - li.getBoundingClientRect().top;
    if (Math.abs(dy) < 1) continue;
    li.classList.remove("flip-play");
    li.style.transform = `translateY(${dy}px)`;
    li.dataset.moved = dy > 0 ? "up" : "down";
    moved.push(li);
  }
  if (!moved.length) return;
  void list.offsetHeight; // apply the inverted positions before playing
  for (const li of moved) {
    li.classList.add("flip-play");
    li.style.transform = "";
  }
}

function renderRanking(ranking) {
  const method = results.method;
  const active = Object.keys(results.participation || {}).filter((key) => results.participation[key] > 0);
  // Score is a 1..5 mean: its bars keep the absolute scale; points scale to the leader.
  const max = method === "score" ? 5 : Math.max(1e-9, ...ranking.map((r) => Number(r.score) || 0));
  $("rank-caption").textContent = method === "score" ? t("axis_score_split") : barAxisTitle(method);

  // The legend doubles as the live helix meter: voters per helix.
  syncList($("helix-legend"), (page.helices || []).filter((x) => active.includes(x.key)), (x) => x.key,
    (x) => h("li", {},
      h("span", { class: "swatch", "aria-hidden": "true" }), h("span", { class: "legend-label" }), " ",
      h("span", { class: "legend-n", "aria-hidden": "true" }), h("span", { class: "legend-voters visually-hidden" })),
    (li, x) => {
      const n = results.participation[x.key];
      li.querySelector(".swatch").style.backgroundColor = helixColour(x.key);
      li.querySelector(".legend-label").textContent = x.label;
      li.querySelector(".legend-n").textContent = String(n); // how many of the helix voted
      li.querySelector(".legend-voters").textContent = `(${t("voters_value", { n })})`;
    });

  withFlip($("rank-bars"), () => syncList($("rank-bars"), ranking, (r) => r.domain_id,
    () => h("li", { class: "rank-row" },
      h("span", { class: "rank-pos", "aria-hidden": "true" }),
      h("div", { class: "rank-main" },
        h("p", { class: "rank-head" }, h("span", { class: "title" }), " ", h("span", { class: "rank-score" })),
        h("span", { class: "rank-track", "aria-hidden": "true" }),
        h("p", { class: "rank-meta" }),
        h("p", { class: "rank-split visually-hidden" }))),
    (li, r) => {
      li.querySelector(".rank-pos").textContent = String(ranking.indexOf(r) + 1);
      li.querySelector(".title").textContent = r.title;
      li.querySelector(".rank-score").textContent = num(r.score);
      const parts = helixSplit(results, r);
      const track = li.querySelector(".rank-track");
      syncList(track, parts, (part) => part.key,
        (part) => h("span", { class: "seg", "data-helix": part.key }),
        (seg, part) => {
          seg.style.backgroundColor = helixColour(part.key);
          seg.style.width = `${Math.max(0, (100 * part.value) / max)}%`;
        });
      const meta = [];
      if (r.voters) {
        meta.push(t("balanced_value", { score: num(r.balanced_score) }));
        // With one helix behind it, consensus is 0 by definition: the words say more.
        if (kindOf(r) !== "one_helix") meta.push(t("consensus_value", { value: pct(r.consensus) }));
        const kind = kindWords[kindOf(r)]();
        if (kind) meta.push(kind);
      } else {
        meta.push(t("no_votes_for"));
      }
      li.querySelector(".rank-meta").textContent = meta.join(" · ");
      li.dataset.kind = r.voters ? kindOf(r) : "none";
      li.querySelector(".rank-split").textContent = parts.filter((part) => part.value > 0)
        .map((part) => `${helixLabel(part.key)}: ${num(part.value)}`).join("; ");
    }));
}

function renderResults(onStage) {
  const ranking = results.ranking || [];
  // The side list (decide and closed phases) keeps the figures in words.
  syncList($("ranking"), ranking, (r) => r.domain_id,
    () =>
      h("li", {},
        h("span", { class: "title" }), " ",
        h("span", { class: "score" }), " ",
        h("span", { class: "balanced" }), " ",
        h("span", { class: "consensus" }), " ",
        h("span", { class: "kind" })),
    (li, r) => {
      li.querySelector(".title").textContent = r.title;
      li.querySelector(".score").textContent = t("score_value", { score: num(r.score) });
      li.querySelector(".balanced").textContent = `· ${t("balanced_value", { score: num(r.balanced_score) })}`;
      li.querySelector(".consensus").textContent = r.voters ? `· ${t("consensus_value", { value: pct(r.consensus) })}` : "";
      const kind = kindWords[kindOf(r)]();
      li.querySelector(".kind").textContent = kind ? `· ${kind}` : "";
    });
  if (onStage) {
    renderRanking(ranking);
    if (Chart) window.edpConsensusChart = consensusChart($("consensus-chart"), results, SIZES.screen, 10);
  }
  resultsVersion += 1;
  document.body.dataset.resultsVersion = String(resultsVersion);
}
