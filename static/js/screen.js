// The projector: join code and QR, live counts, domains, and the live results chart.
import { countRows, emit, h, helixLabel, num, onConnect, page, renderBars, socket, syncList, t } from "./socket.js";

const $ = (id) => document.getElementById(id);
const Chart = window.Chart;

// Dark enough on white for 3:1 non-text contrast; white borders separate stacked segments.
const PALETTE = ["#0b5cad", "#b35200", "#00785a", "#a8326e", "#5a4fcf", "#6b6b00", "#1f1f1f", "#c0392b"];
const helixColour = (key) => {
  const index = (page.helices || []).findIndex((x) => x.key === key);
  return PALETTE[(index < 0 ? 0 : index) % PALETTE.length];
};

let state = null;
let results = null;
let resultsVersion = 0;

onConnect(async () => {
  // On every (re)connection: join the workshop's room again and take a fresh snapshot.
  const ack = await emit("watch", { code: page.code });
  if (ack.ok) applyState(ack.state);
});
socket.on("state", applyState);
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
  state = s;
  results = s.results || null;
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
  const showRanking = Boolean(results) && (stage === "results" || stage === "priorities");
  $("ranking-panel").hidden = !showRanking;
  $("counts-panel").hidden = showRanking; // the header keeps the total; the chart legend the helices
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
    () => h("li", { class: "priority" }, h("h3", { class: "title" }), h("p", { class: "rationale" })),
    (li, p) => {
      li.querySelector(".title").textContent = `${t("priority_n", { rank: p.rank })}: ${p.title}`;
      li.querySelector(".rationale").textContent = p.rationale;
    });
}

// ---------------------------------------------------------------- results

function renderResults(withChart) {
  const ranking = results.ranking || [];
  syncList($("ranking"), ranking, (r) => r.domain_id,
    () =>
      h("li", {},
        h("span", { class: "title" }), " ",
        h("span", { class: "score" }), " ",
        h("span", { class: "balanced" })),
    (li, r) => {
      li.querySelector(".title").textContent = r.title;
      li.querySelector(".score").textContent = t("score_value", { score: num(r.score) });
      li.querySelector(".balanced").textContent = `· ${t("balanced_value", { score: num(r.balanced_score) })}`;
    });
  // The chart shows the top of the list (bars stay readable); the text list has everything.
  if (withChart && Chart) renderChart(ranking.slice(0, 12));
  resultsVersion += 1;
  document.body.dataset.resultsVersion = String(resultsVersion);
}

/** One dataset per helix (points that helix gave) for dot and rank; plain scores for score. */
function datasetsFor(ranking) {
  const participation = results.participation || {};
  const active = Object.keys(participation).filter((key) => participation[key] > 0);
  if (results.method !== "score" && active.length) {
    return active.map((key) => ({
      key,
      label: helixLabel(key),
      data: ranking.map((r) => ((r.by_helix || {})[key] || 0) * participation[key]),
      backgroundColor: helixColour(key),
    }));
  }
  return [{ key: "score", label: t("method_score"), data: ranking.map((r) => r.score), backgroundColor: PALETTE[0] }];
}

function wrap(text, width = 26) {
  const lines = [];
  let line = "";
  for (const word of String(text).split(/\s+/)) {
    if (line && (line + " " + word).length > width) {
      lines.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  if (line) lines.push(line);
  return lines.length > 3 ? [...lines.slice(0, 2), `${lines[2]}…`] : lines;
}

function renderChart(ranking) {
  const labels = ranking.map((r) => r.title);
  const datasets = datasetsFor(ranking);
  const chart = window.edpChart;
  if (chart) {
    const same = chart.data.datasets.length === datasets.length &&
      chart.data.datasets.every((d, i) => d.key === datasets[i].key);
    chart.data.labels = labels;
    if (same) datasets.forEach((d, i) => { chart.data.datasets[i].data = d.data; });
    else chart.data.datasets = datasets.map(styled);
    chart.options.plugins.legend.display = datasets[0].key !== "score";
    chart.update();
    return;
  }
  Chart.defaults.font.family = getComputedStyle(document.body).fontFamily;
  Chart.defaults.font.size = 20;
  Chart.defaults.color = "#111";
  window.edpChart = new Chart($("chart"), {
    type: "bar",
    data: { labels, datasets: datasets.map(styled) },
    options: {
      indexAxis: "y",
      responsive: true,
      maintainAspectRatio: false,
      animation: { duration: 300 },
      scales: {
        x: { stacked: true, beginAtZero: true, ticks: { precision: 0 }, grid: { color: "#ccc" } },
        y: {
          stacked: true,
          grid: { display: false },
          ticks: {
            autoSkip: false,
            font: { size: 20, weight: "600" },
            callback(value) { return wrap(this.getLabelForValue(value)); },
          },
        },
      },
      plugins: {
        legend: { display: datasets[0].key !== "score", position: "bottom", labels: { boxWidth: 24, padding: 16 } },
        tooltip: { enabled: false },
      },
    },
  });
}

const styled = (d) => ({ ...d, borderColor: "#fff", borderWidth: 2, borderSkipped: false, maxBarThickness: 56 });
