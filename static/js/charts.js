// The two results charts, shared by the projector and the console (Chart.js from static/vendor).
//
// 1. Ranking bars: one bar per domain in ranking order, split by helix. Dot and rank stack the
//    points each helix gave (the bar is the score); score stacks each helix's share of the
//    helix-balanced score (by_helix / number of voting helices), as means do not add up.
// 2. Support and consensus: a point per domain, x = helix-balanced score (a crowded helix cannot
//    push it), y = consensus across helices (Pol.is's group-informed consensus: the geometric
//    mean over the helices of each one's smoothed support rate; see docs/protocol.md). Top right
//    = strong and shared; bottom right = strong for some, not for others. With fewer than two
//    helices voting there is nothing to agree across: consensus is null and the chart stays
//    empty. The marker says why: broad, helices disagree,
//    support from one helix only. Each point is labelled with its place in the ranking (and,
//    for the top few, its title where it fits); labels are placed so that none overlaps
//    another label or a marker, and domains on the very same spot share one label ("7–9").
import { num, page, t } from "./socket.js";

const Chart = window.Chart;

// Dark enough on white for 3:1 non-text contrast; white borders separate stacked segments.
export const PALETTE = ["#0b5cad", "#b35200", "#00785a", "#a8326e", "#5a4fcf", "#6b6b00", "#1f1f1f", "#c0392b"];

// The bucket the server pools helices too small to show on their own into (participants and
// the projector only; see "Small-group privacy" in docs/protocol.md), in a neutral grey.
export const OTHER_GROUPS = "_other";
const OTHER_COLOUR = "#595959";

/** A helix's label in the page's language (`labels` from the template, else `label`). */
export const helixName = (key) => {
  const found = (page.helices || []).find((x) => x.key === key);
  if (!found && key === OTHER_GROUPS) return t("other_groups");
  if (!found) return key;
  return (found.labels && found.labels[page.language]) || found.label || key;
};

export const helixColour = (key) => {
  if (key === OTHER_GROUPS && !(page.helices || []).some((x) => x.key === key)) return OTHER_COLOUR;
  const index = (page.helices || []).findIndex((x) => x.key === key);
  return PALETTE[(index < 0 ? 0 : index) % PALETTE.length];
};

const percent = new Intl.NumberFormat(page.language || "en", { style: "percent", maximumFractionDigits: 0 });
export const pct = (x) => percent.format(Number(x) || 0);
/** Consensus as a percentage; "–" when there is none (fewer than two helices voted). */
export const consensusText = (x) => (x === null || x === undefined ? "–" : pct(x));

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

/**
 * The projector's sizes for a viewport `height` (px): everything follows the height, like the
 * page's CSS (screen.css), and no text is smaller than `floor`, 2.2% of the height.
 */
export function screenSizes(height = window.innerHeight) {
  const vh = height / 100;
  const floor = Math.ceil(2.2 * vh);
  return {
    font: Math.max(floor, Math.round(2.4 * vh)), small: floor, point: Math.max(6, Math.round(1.05 * vh)),
    label: Math.max(floor, Math.round(2.3 * vh)), title: 0, bar: Math.round(2.8 * vh), floor, titled: 5,
  };
}

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
    label: helixName(key),
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

/** Points per kind; only domains someone supports (the rest would pile up at 0) and that have
 * a consensus (null: fewer than two helices voted). */
function scatterDatasets(results, limit) {
  const ranking = results.ranking || [];
  const points = { broad: [], polarised: [], one_helix: [] };
  ranking.forEach((r, i) => {
    if (i >= limit || !(r.balanced_score > 0) || r.consensus === null || r.consensus === undefined) return;
    points[kindOf(r)].push({ x: r.balanced_score, y: r.consensus, n: i + 1, title: r.title, domain_id: r.domain_id });
  });
  return KINDS.map((k) => ({ key: k.key, label: k.label(), data: points[k.key] }));
}

const overlaps = (a, b) => a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;

/** Whether the segment `line` ({x1, y1, x2, y2}) passes through `box` (Liang–Barsky clipping). */
function crosses(line, box) {
  const dx = line.x2 - line.x1;
  const dy = line.y2 - line.y1;
  let t0 = 0;
  let t1 = 1;
  const edges = [[-dx, line.x1 - box.x], [dx, box.x + box.w - line.x1], [-dy, line.y1 - box.y], [dy, box.y + box.h - line.y1]];
  for (const [p, q] of edges) {
    if (p === 0) {
      if (q < 0) return false;
    } else {
      const r = q / p;
      if (p < 0) t0 = Math.max(t0, r);
      else t1 = Math.min(t1, r);
      if (t0 > t1) return false;
    }
  }
  return t1 - t0 > 1e-6;
}

/** Places in the ranking as one short label: [7, 8, 9] -> "7–9", [3, 5] -> "3, 5". */
export function rankList(numbers) {
  const sorted = [...new Set(numbers)].sort((a, b) => a - b);
  const parts = [];
  for (let i = 0; i < sorted.length;) {
    let j = i;
    while (j + 1 < sorted.length && sorted[j + 1] === sorted[j] + 1) j += 1;
    parts.push(j - i >= 2 ? `${sorted[i]}–${sorted[j]}` : sorted.slice(i, j + 1).join(", "));
    i = j + 1;
  }
  return parts.join(", ");
}

/** `text` in whole-word lines at most `width` px wide, or null if it needs more than `max` lines. */
function wrapWords(ctx, text, width, max) {
  const lines = [];
  let line = "";
  for (const word of String(text).split(/\s+/).filter(Boolean)) {
    const next = line ? `${line} ${word}` : word;
    if (ctx.measureText(next).width <= width) line = next;
    else if (!line || lines.length + 1 >= max) return null;
    else { lines.push(line); line = word; }
    if (ctx.measureText(line).width > width) return null;
  }
  if (line) lines.push(line);
  return lines.length && lines.length <= max ? lines : null;
}

// Where a label may go around a point: beside it, above, below, then the diagonals; rings
// further out come with a leader line back to the point.
const DIRECTIONS = [[1, 0], [-1, 0], [0, -1], [0, 1], [0.7, -0.7], [0.7, 0.7], [-0.7, -0.7], [-0.7, 0.7]];

function boxAt(cx, cy, [dx, dy], d, w, h) {
  const x = dx > 0 ? cx + dx * d : dx < 0 ? cx + dx * d - w : cx - w / 2;
  const y = dy > 0 ? cy + dy * d : dy < 0 ? cy + dy * d - h : cy - h / 2;
  return { x, y, w, h };
}

/**
 * Labels that never collide: every point (or group of points on the very same spot) gets its
 * place in the ranking, the top `size.titled` their title too where it fits in two lines. Each
 * label goes to the nearest free spot that overlaps no other label and no marker; a label
 * moved away from its point gets a leader line. The boxes are kept on the chart
 * (`chart.$edpLabels`, `chart.$edpMarkers`, canvas pixels) so tests can check them.
 */
const pointLabels = {
  id: "edpPointLabels",
  afterDatasetsDraw(chart) {
    const { ctx, chartArea: area } = chart;
    const size = chart.options.edpSize;
    const family = Chart.defaults.font.family;
    const items = [];
    chart.data.datasets.forEach((d, k) => {
      if (!chart.isDatasetVisible(k)) return;
      chart.getDatasetMeta(k).data.forEach((el, j) => {
        if (Number.isFinite(el.x) && Number.isFinite(el.y)) items.push({ x: el.x, y: el.y, p: d.data[j] });
      });
    });
    items.sort((a, b) => a.p.n - b.p.n); // the top of the ranking is placed first
    // Points on the same spot on the screen (each marker covers more than half of every other's:
    // less than a marker radius apart) share one label: "8–11".
    const clusters = [];
    for (const item of items) {
      const near = clusters.find((c) => c.members.every((m) => Math.hypot(m.x - item.x, m.y - item.y) < size.point));
      if (near) near.members.push(item);
      else clusters.push({ x: item.x, y: item.y, members: [item] });
    }
    const reach = size.point * 1.2 + 3; // the widest marker (diamond, triangle) and its border
    const markers = items.map((item) => ({ x: item.x - reach, y: item.y - reach, w: 2 * reach, h: 2 * reach }));
    const labels = [];
    const font = `700 ${size.label}px ${family}`;
    const lineH = Math.round(size.label * 1.2);
    const pad = 3;
    // Labels keep a little air between them, so "9" and "2, 3" never read as one label.
    const air = Math.round(size.label * 0.4);
    /** The leader line from point `c` to `box`, or null when the box is right beside it. */
    const leaderTo = (c, box) => {
      const nx = Math.min(Math.max(c.x, box.x), box.x + box.w);
      const ny = Math.min(Math.max(c.y, box.y), box.y + box.h);
      const gap = Math.hypot(nx - c.x, ny - c.y);
      if (gap <= reach + lineH * 0.5) return null;
      return { x1: c.x + ((nx - c.x) * reach) / gap, y1: c.y + ((ny - c.y) * reach) / gap, x2: nx, y2: ny };
    };
    // Free for cluster `c`: inside the plot, clear of every other label (with air), of every
    // marker and of the other labels' leader lines; with `strict`, its own leader line crosses no
    // label either (relaxed only when nothing else is left).
    const fits = (c, box, strict = true, pastMarkers = true) => {
      if (box.x < area.left || box.x + box.w > area.right || box.y < area.top || box.y + box.h > area.bottom) return false;
      const others = labels.filter((o) => o.c !== c);
      const wide = { x: box.x - air, y: box.y - 2, w: box.w + 2 * air, h: box.h + 4 };
      if (others.some((o) => overlaps(wide, o)) || markers.some((o) => overlaps(box, o))) return false;
      if (!strict) return true;
      if (others.some((o) => o.line && crosses(o.line, box))) return false;
      const line = leaderTo(c, box);
      // ...and passes by the other markers, so it cannot be read as pointing at them.
      return !line || (!others.some((o) => crosses(line, o)) &&
        (!pastMarkers || !items.some((m, k) => !c.members.includes(m) && crosses(line, markers[k]))));
    };
    const measure = (lines) => ({
      w: Math.ceil(Math.max(...lines.map((line) => ctx.measureText(line).width))) + 2 * pad,
      h: lineH * lines.length + 2 * pad,
    });
    const around = (c, { w, h }, rings) => {
      for (let ring = 0; ring < rings; ring += 1) {
        const d = reach + 1 + ring * lineH * 0.8;
        const box = DIRECTIONS.map((dir) => boxAt(c.x, c.y, dir, d, w, h)).find((b) => fits(c, b));
        if (box) return box;
      }
      return null;
    };
    const anywhere = (c, { w, h }) => {
      // Anywhere in the plot, nearest first, with a leader line.
      const step = Math.max(4, Math.round(lineH / 2));
      const boxes = [];
      for (let y = area.top; y + h <= area.bottom; y += step) {
        for (let x = area.left; x + w <= area.right; x += step) {
          boxes.push({ x, y, w, h, dist: Math.hypot(x + w / 2 - c.x, y + h / 2 - c.y) });
        }
      }
      boxes.sort((m, n) => m.dist - n.dist);
      const box = boxes.find((b) => fits(c, b));
      if (box) return box;
      relaxed += 1; // a leader line through a label or a marker: try another way (below)
      lastRelaxed = true;
      return boxes.find((b) => fits(c, b, false)) || null;
    };
    let relaxed = 0;
    let lastRelaxed = false;
    const place = (c, lines, box) => {
      const label = { x: box.x, y: box.y, w: box.w, h: box.h, lines, text: lines.join(" "), c, n: c.members.map((m) => m.p.n) };
      label.line = leaderTo(c, label);
      return label;
    };
    ctx.save();
    ctx.font = font;
    // 1. Every point's place in the ranking, as near to it as there is room, top of the ranking
    // first; if that leaves a leader line through a label or a marker, the most crowded points
    // first instead, and whichever order needs fewer such lines.
    const placeAll = (order) => {
      labels.length = 0;
      relaxed = 0;
      for (const c of order) {
        const lines = [rankList(c.members.map((m) => m.p.n))];
        const size2 = measure(lines);
        lastRelaxed = false;
        const box = around(c, size2, 6) || anywhere(c, size2);
        if (!box) continue; // no room at all: the ranking beside the chart lists it
        const label = place(c, lines, box);
        label.relaxed = lastRelaxed;
        labels.push(label);
      }
      return { placed: labels.slice(), relaxed };
    };
    /** The labels that could only go where their leader line crosses something: in one row
     * above (or below) their points, in the points' order, so that the lines fan out without
     * crossing a label. False (and nothing changed) if no row fits. */
    const inARow = () => {
      const stuck = labels.filter((label) => label.relaxed);
      if (!stuck.length) return true;
      // With them, the labels of their neighbours (which stood in the way).
      const near = (label) => stuck.some((o) => Math.hypot(o.c.x - label.c.x, o.c.y - label.c.y) < 6 * reach);
      const group = labels.filter((label) => label.relaxed || near(label));
      const keep = labels.filter((label) => !group.includes(label));
      group.sort((a, b) => a.c.x - b.c.x);
      const top = Math.min(...group.map((label) => label.c.y)) - reach;
      const bottom = Math.max(...group.map((label) => label.c.y)) + reach;
      const h = group[0].h;
      const step = Math.max(4, Math.round(lineH / 2));
      const bands = [];
      for (let y = top - lineH - h; y >= area.top; y -= step) bands.push(y);
      for (let y = bottom + lineH; y + h <= area.bottom; y += step) bands.push(y);
      bands.sort((a, b) => Math.min(Math.abs(a + h - top), Math.abs(a - bottom)) - Math.min(Math.abs(b + h - top), Math.abs(b - bottom)));
      for (const y of bands) {
        const xs = [];
        let right = -Infinity;
        for (const label of group) {
          const x = Math.max(area.left, label.c.x - label.w / 2, right + air);
          xs.push(x);
          right = x + label.w;
        }
        const shift = Math.max(0, right - area.right);
        labels.splice(0, labels.length, ...keep);
        let ok = xs[0] - shift >= area.left;
        for (let k = 0; ok && k < group.length; k += 1) {
          const box = { x: xs[k] - shift, y, w: group[k].w, h };
          if (!fits(group[k].c, box, true, false)) ok = false;
          else labels.push(place(group[k].c, group[k].lines, box));
        }
        if (ok) return true;
      }
      labels.splice(0, labels.length, ...keep, ...group);
      return false;
    };
    let best = placeAll(clusters);
    if (best.relaxed) {
      const crowd = (c) => items.filter((m) => Math.hypot(m.x - c.x, m.y - c.y) < 6 * reach).length;
      const crowded = clusters.slice().sort((a, b) => crowd(b) - crowd(a) || a.members[0].p.n - b.members[0].p.n);
      const other = placeAll(crowded);
      if (other.relaxed >= best.relaxed && other.placed.length <= best.placed.length) labels.splice(0, labels.length, ...best.placed);
      else best = other;
      if (best.relaxed) inARow();
    }
    labels.sort((a, b) => a.n[0] - b.n[0]);
    // 2. The top few also get their title, where it fits beside the point (in two lines at most).
    for (const label of labels.slice()) {
      const c = label.c;
      if (c.members.length !== 1 || c.members[0].p.n > (size.titled ?? 3)) continue;
      const lines = wrapWords(ctx, `${label.text}. ${c.members[0].p.title}`, size.label * 15, 2);
      if (!lines) continue;
      const box = around(c, measure(lines), 2);
      if (box) labels[labels.indexOf(label)] = place(c, lines, box);
    }
    for (const label of labels) {
      if (label.line) {
        ctx.strokeStyle = "#4f5663";
        ctx.lineWidth = 1.5;
        ctx.beginPath();
        ctx.moveTo(label.line.x1, label.line.y1);
        ctx.lineTo(label.line.x2, label.line.y2);
        ctx.stroke();
      }
    }
    ctx.textBaseline = "middle";
    ctx.textAlign = "left";
    ctx.lineJoin = "round";
    for (const label of labels) {
      label.lines.forEach((text, k) => {
        const y = label.y + pad + lineH * (k + 0.5);
        ctx.strokeStyle = "rgba(255,255,255,.92)";
        ctx.lineWidth = 5;
        ctx.strokeText(text, label.x + pad, y);
        ctx.fillStyle = "#111";
        ctx.fillText(text, label.x + pad, y);
      });
    }
    ctx.restore();
    // For tests and a look from the browser's console: the boxes, without the cluster objects.
    chart.$edpLabels = labels.map(({ c, lines, line, ...box }) => box);
    chart.$edpMarkers = markers;
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

/** Round ticks from 0 up to `max`: 0, 1, 2, ... or 0, 0.5, 1, ... (about five of them). */
function niceTicks(max) {
  const rough = Math.max(max, 1e-9) / 5;
  const power = 10 ** Math.floor(Math.log10(rough));
  const step = [1, 2, 2.5, 5, 10].map((f) => f * power).find((x) => x >= rough);
  const ticks = [];
  for (let k = 0; k * step <= max + 1e-9 && ticks.length < 12; k += 1) ticks.push(Number((k * step).toPrecision(12)));
  return ticks;
}

/** "Consensus (weakest ÷ strongest)" -> ["Consensus", "(weakest ÷ strongest)"]. */
function twoLines(text) {
  const cut = text.indexOf(" (");
  return cut > 0 ? [text.slice(0, cut), text.slice(cut + 1)] : text;
}

/** Create or update the support-and-consensus chart on `canvas`. */
export function consensusChart(canvas, results, size, limit = 12) {
  const datasets = scatterDatasets(results, limit);
  for (const d of datasets) for (const p of d.data) p.kind = d.key;
  // The x axis ends 12% past the furthest point.
  const xMax = 1.12 * Math.max(1e-9, ...datasets.flatMap((d) => d.data.map((p) => p.x))) || 1;
  let chart = Chart.getChart(canvas);
  if (chart) {
    datasets.forEach((d, i) => { chart.data.datasets[i].data = d.data; });
    Object.assign(chart.options.scales.x, { min: -0.06 * xMax, max: xMax });
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
          // A little room left of 0 (for the labels of points near 0); no tick below 0.
          min: -0.06 * xMax, max: xMax, grid: { color: "#ddd" },
          afterBuildTicks: (axis) => { axis.ticks = niceTicks(axis.max).map((value) => ({ value })); },
          ticks: { callback: (value) => num(value), maxTicksLimit: 6 },
          title: { display: true, text: twoLines(t("axis_balanced")), font: { size: size.small } },
        },
        y: {
          min: -0.16, max: 1.1, grid: { color: "#ddd" },
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
