// The two results charts, shared by the projector and the console (Chart.js from static/vendor).
//
// 1. Ranking bars: one bar per domain in ranking order, split by helix. Dot and rank stack the
//    points each helix gave (the bar is the score); score stacks each helix's share of the
//    helix-balanced score (by_helix / number of voting helices), as means do not add up.
// 2. Support and consensus: a point per domain, x = helix-balanced score (a crowded helix cannot
//    push it), y = consensus (weakest helix / strongest). Top right = strong and shared; bottom
//    right = strong for some, not for others. The marker says why: broad, helices disagree,
//    support from one helix only. Points carry the ranking number; titles go where they fit.
import { helixLabel, num, page, t } from "./socket.js";

const Chart = window.Chart;

// Dark enough on white for 3:1 non-text contrast; white borders separate stacked segments.
export const PALETTE = ["#0b5cad", "#b35200", "#00785a", "#a8326e", "#5a4fcf", "#6b6b00", "#1f1f1f", "#c0392b"];

export const helixColour = (key) => {
  const index = (page.helices || []).findIndex((x) => x.key === key);
  return PALETTE[(index < 0 ? 0 : index) % PALETTE.length];
};

const percent = new Intl.NumberFormat(page.language || "en", { style: "percent", maximumFractionDigits: 0 });
export const pct = (x) => percent.format(Number(x) || 0);

/** Why a domain is where it is: "one_helix", "polarised" or "broad". */
export const kindOf = (r) => (r.one_helix ? "one_helix" : r.polarised ? "polarised" : "broad");

// Colours the helices do not use (the first six of PALETTE), and a shape each, so a marker is
// never mistaken for a helix and still reads in black and white.
const KINDS = [
  { key: "broad", label: () => t("kind_broad"), colour: "#1f1f1f", style: "circle" },
  { key: "polarised", label: () => t("kind_polarised"), colour: "#c0392b", style: "triangle" },
  { key: "one_helix", label: () => t("kind_one_helix"), colour: "#6b4e00", style: "rectRot" },
];

/** Sizes per face: the projector is read from the back of the room, the console up close. */
export const SIZES = {
  screen: { font: 20, small: 18, point: 17, label: 20, title: 26, bar: 30 },
  console: { font: 14, small: 13, point: 12, label: 14, title: 30, bar: 22 },
};

/** Global Chart.js look for this page (fonts follow the page's CSS). */
export function setupCharts(size) {
  if (!Chart) return;
  Chart.defaults.font.family = getComputedStyle(document.body).fontFamily;
  Chart.defaults.font.size = size.font;
  Chart.defaults.color = "#111";
}

/** A short title: whole words up to `width` characters, then an ellipsis. */
export function shortTitle(text, width = 24) {
  const words = String(text).split(/\s+/);
  let out = "";
  for (const word of words) {
    const next = out ? `${out} ${word}` : word;
    if (next.length > width) return out ? `${out}…` : `${word.slice(0, width - 1)}…`;
    out = next;
  }
  return out;
}

const activeHelices = (results) => {
  const participation = results.participation || {};
  return Object.keys(participation).filter((key) => participation[key] > 0);
};

// ---------------------------------------------------------------- ranking bars

/** One dataset per voting helix (see the top of the file for what a segment is). */
function barDatasets(results, ranking) {
  const participation = results.participation || {};
  const active = activeHelices(results);
  if (!active.length) {
    return [{ key: "score", label: t("method_score"), data: ranking.map((r) => r.score), backgroundColor: PALETTE[0] }];
  }
  const share = results.method === "score"
    ? (r, key) => ((r.by_helix || {})[key] || 0) / active.length
    : (r, key) => ((r.by_helix || {})[key] || 0) * participation[key];
  return active.map((key) => ({
    key,
    label: helixLabel(key),
    data: ranking.map((r) => share(r, key)),
    backgroundColor: helixColour(key),
  }));
}

/**
 * One domain's score split by the helices that voted, for the projector's HTML bars:
 * [{key, value}] adding up to `r.score`. Dot and rank: the points each helix gave. Score (a
 * mean, which does not add up): the score shared in proportion to each helix's mean.
 */
export function helixSplit(results, r) {
  const participation = results.participation || {};
  const active = activeHelices(results);
  const byHelix = r.by_helix || {};
  if (results.method === "score") {
    const sum = active.reduce((total, key) => total + (byHelix[key] || 0), 0);
    return active.map((key) => ({ key, value: sum > 0 ? (r.score * (byHelix[key] || 0)) / sum : 0 }));
  }
  return active.map((key) => ({ key, value: (byHelix[key] || 0) * participation[key] }));
}

export const barAxisTitle = (method) => t(method === "score" ? "axis_balanced_share" : method === "rank" ? "axis_borda" : "axis_points");

/** `text` cut at a word (with an ellipsis) so that it is at most `width` pixels wide. */
function fitText(ctx, text, width) {
  if (ctx.measureText(text).width <= width) return text;
  const words = String(text).split(/\s+/);
  while (words.length > 1) {
    words.pop();
    const cut = `${words.join(" ")}…`;
    if (ctx.measureText(cut).width <= width) return cut;
  }
  return `${words[0].slice(0, 12)}…`;
}

// Each domain's number and title on the line above its bar (the whole width is there for the
// title, so it stays big enough for the back of the room), and the total at the bar's end.
const barText = {
  id: "edpBarText",
  afterDatasetsDraw(chart) {
    const { ctx, scales, chartArea: area } = chart;
    const size = chart.options.edpSize;
    const family = Chart.defaults.font.family;
    const bars = chart.getDatasetMeta(0).data;
    ctx.save();
    chart.data.labels.forEach((label, i) => {
      const bar = bars[i];
      if (!bar) return;
      const top = bar.y - bar.height / 2;
      ctx.font = `600 ${size.font}px ${family}`;
      ctx.fillStyle = "#111";
      ctx.textBaseline = "bottom";
      ctx.fillText(fitText(ctx, `${i + 1}. ${label}`, area.right - area.left), area.left, top - 3);
      const total = chart.data.datasets.reduce((sum, d, k) => sum + (chart.isDatasetVisible(k) ? d.data[i] || 0 : 0), 0);
      ctx.font = `700 ${size.label}px ${family}`;
      ctx.textBaseline = "middle";
      ctx.fillText(num(total), scales.x.getPixelForValue(total) + 8, bar.y);
    });
    ctx.restore();
  },
};

const styledBar = (size) => (d) => ({
  ...d, borderColor: "#fff", borderWidth: 2, borderSkipped: false, maxBarThickness: size.bar,
  categoryPercentage: 1, barPercentage: 0.42,
});

/** Create or update the stacked ranking bars on `canvas` (the top `limit` domains). */
export function rankingChart(canvas, results, size, limit = 12) {
  const ranking = (results.ranking || []).slice(0, limit);
  const labels = ranking.map((r) => r.title);
  const datasets = barDatasets(results, ranking);
  const legend = datasets[0].key !== "score";
  let chart = Chart.getChart(canvas);
  if (chart) {
    const same = chart.data.datasets.length === datasets.length &&
      chart.data.datasets.every((d, i) => d.key === datasets[i].key);
    chart.data.labels = labels;
    if (same) datasets.forEach((d, i) => { chart.data.datasets[i].data = d.data; });
    else chart.data.datasets = datasets.map(styledBar(size));
    chart.options.plugins.legend.display = legend;
    chart.options.scales.x.title.text = barAxisTitle(results.method);
    chart.update();
    return chart;
  }
  chart = new Chart(canvas, {
    type: "bar",
    data: { labels, datasets: datasets.map(styledBar(size)) },
    plugins: [barText],
    options: {
      edpSize: size,
      indexAxis: "y",
      responsive: true,
      maintainAspectRatio: false,
      animation: { duration: 300 },
      layout: { padding: { right: size.label * 3, top: size.font * 1.3 } },
      scales: {
        x: {
          stacked: true, beginAtZero: true, ticks: { precision: 0 }, grid: { color: "#ccc" },
          title: { display: true, text: barAxisTitle(results.method), font: { size: size.small } },
        },
        y: { stacked: true, grid: { display: false }, ticks: { display: false }, border: { display: false } },
      },
      plugins: {
        legend: { display: legend, position: "bottom", labels: { boxWidth: size.font, padding: size.font * 0.8 } },
        tooltip: { enabled: false },
      },
    },
  });
  return chart;
}

// ---------------------------------------------------------------- support and consensus

/** Points per kind; only domains someone supports (the rest would pile up at 0, 0). */
function scatterDatasets(results, limit) {
  const ranking = results.ranking || [];
  const points = { broad: [], polarised: [], one_helix: [] };
  ranking.forEach((r, i) => {
    if (i >= limit || !(r.balanced_score > 0)) return;
    points[kindOf(r)].push({ x: r.balanced_score, y: r.consensus, n: i + 1, title: r.title, domain_id: r.domain_id });
  });
  return KINDS.map((k) => ({ key: k.key, label: k.label(), data: points[k.key] }));
}

const overlaps = (a, b) => a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;

// Numbers inside the markers; short titles beside them where they fit without overlapping.
// Domains on the same spot (e.g. two one-helix domains with equal scores) share one label
// block, one line per domain with its number, and their marker shows the numbers together.
const pointLabels = {
  id: "edpPointLabels",
  afterDatasetsDraw(chart) {
    const { ctx, chartArea: area } = chart;
    const size = chart.options.edpSize;
    const family = Chart.defaults.font.family;
    const r = size.point;
    const items = [];
    chart.data.datasets.forEach((d, k) => {
      if (!chart.isDatasetVisible(k)) return;
      chart.getDatasetMeta(k).data.forEach((el, j) => items.push({ x: el.x, y: el.y, p: d.data[j] }));
    });
    items.sort((a, b) => a.p.n - b.p.n); // the top of the ranking is placed first
    const clusters = [];
    for (const item of items) {
      const near = clusters.find((c) => Math.hypot(c.x - item.x, c.y - item.y) < r * 0.8);
      if (near) near.members.push(item);
      else clusters.push({ x: item.x, y: item.y, members: [item] });
    }
    const taken = clusters.map((c) => ({ x: c.x - r, y: c.y - r, w: 2 * r, h: 2 * r }));
    ctx.save();
    ctx.textBaseline = "middle";
    ctx.textAlign = "center";
    ctx.lineJoin = "round";
    for (const c of clusters) {
      // Redraw the top marker's number (the markers underneath are hidden by it anyway).
      const numbers = c.members.length > 3
        ? `${c.members[0].p.n}+`
        : c.members.map((m) => m.p.n).join(",");
      const fontSize = Math.round(r * (numbers.length > 2 ? 0.75 : 0.95));
      ctx.font = `700 ${fontSize}px ${family}`;
      ctx.fillStyle = "#fff";
      const top = c.members[c.members.length - 1].p;
      ctx.fillText(numbers, c.x, c.y + (top.kind === "polarised" ? r * 0.25 : 1)); // a triangle's middle sits low
    }
    ctx.font = `600 ${size.label}px ${family}`;
    ctx.textAlign = "left";
    const lineH = size.label * 1.25;
    const gap = r + 6;
    const inside = (box) => box.x >= area.left && box.x + box.w <= area.right &&
      box.y >= area.top - r && box.y + box.h <= area.bottom + r;
    for (const c of clusters) {
      // The number starts every label, so a label never seems to belong to the nearer point.
      // Full short titles first; if they fit nowhere, shorter ones.
      let lines = null;
      let spot = null;
      for (const width of [size.title, Math.round(size.title * 0.55)]) {
        lines = c.members.map((m) => `${m.p.n}. ${shortTitle(m.p.title, width)}`);
        const w = Math.max(...lines.map((line) => ctx.measureText(line).width));
        const h = lineH * lines.length;
        // Beside the point, else above or below it (slid sideways to stay inside the plot).
        const slide = Math.min(Math.max(c.x - w / 2, area.left), area.right - w);
        const spots = [
          { x: c.x + gap, y: c.y - h / 2 },
          { x: c.x - gap - w, y: c.y - h / 2 },
          { x: slide, y: c.y - gap - h },
          { x: slide, y: c.y + gap },
        ];
        spot = spots.map((s) => ({ ...s, w, h })).find((box) => inside(box) && !taken.some((other) => overlaps(box, other)));
        if (spot) break;
      }
      if (!spot) continue; // the numbers still tie the points to the ranking
      taken.push(spot);
      lines.forEach((line, k) => {
        const y = spot.y + lineH * (k + 0.5);
        ctx.strokeStyle = "rgba(255,255,255,.9)";
        ctx.lineWidth = 5;
        ctx.strokeText(line, spot.x, y);
        ctx.fillStyle = "#111";
        ctx.fillText(line, spot.x, y);
      });
    }
    ctx.restore();
  },
};

const styledPoints = (size) => (d) => {
  const kind = KINDS.find((k) => k.key === d.key);
  return {
    ...d,
    backgroundColor: kind.colour,
    borderColor: "#fff",
    borderWidth: 2,
    pointStyle: kind.style,
    pointRadius: kind.style === "circle" ? size.point : size.point * 1.2,
    pointHoverRadius: kind.style === "circle" ? size.point : size.point * 1.2,
  };
};

/** "Consensus (weakest ÷ strongest)" -> ["Consensus", "(weakest ÷ strongest)"]. */
function twoLines(text) {
  const cut = text.indexOf(" (");
  return cut > 0 ? [text.slice(0, cut), text.slice(cut + 1)] : text;
}

/** Create or update the support-and-consensus chart on `canvas`. */
export function consensusChart(canvas, results, size, limit = 12) {
  const datasets = scatterDatasets(results, limit);
  for (const d of datasets) for (const p of d.data) p.kind = d.key;
  let chart = Chart.getChart(canvas);
  if (chart) {
    datasets.forEach((d, i) => { chart.data.datasets[i].data = d.data; });
    chart.update();
    return chart;
  }
  chart = new Chart(canvas, {
    type: "scatter",
    data: { datasets: datasets.map(styledPoints(size)) },
    plugins: [pointLabels],
    options: {
      edpSize: size,
      responsive: true,
      maintainAspectRatio: false,
      animation: { duration: 300 },
      layout: { padding: { top: size.point, right: size.point } },
      scales: {
        x: {
          beginAtZero: true, grace: "12%", grid: { color: "#ddd" },
          ticks: { callback: (value) => num(value), maxTicksLimit: 6 },
          title: { display: true, text: twoLines(t("axis_balanced")), font: { size: size.small } },
        },
        y: {
          min: -0.08, max: 1.08, grid: { color: "#ddd" },
          afterBuildTicks: (axis) => { axis.ticks = [0, 0.25, 0.5, 0.75, 1].map((value) => ({ value })); },
          ticks: { callback: (value) => pct(value) },
          // A vertical title cannot wrap by itself: break it before its bracket.
          title: { display: true, text: twoLines(t("axis_consensus")), font: { size: size.small } },
        },
      },
      plugins: {
        legend: { position: "bottom", labels: { usePointStyle: true, boxWidth: size.font, padding: size.font * 0.8 } },
        tooltip: {
          enabled: size.font < 18,
          callbacks: {
            label: (item) => `${item.raw.n}. ${item.raw.title}: ${num(item.raw.x)} · ${pct(item.raw.y)}`,
          },
        },
      },
    },
  });
  return chart;
}
