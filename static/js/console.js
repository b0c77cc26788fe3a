// The facilitator's console: a cockpit bar (phase, Next phase, countdown, head count, connection)
// over one panel per phase (lobby, proposals, comments, votes, results, short list, export).
// A facilitator action is only ever sent while connected: one clicked offline is held with a
// notice and sent again only when the facilitator says so.
import { SIZES, consensusChart, consensusText, pct, rankingChart, setupCharts } from "./charts.js";
import { addComment, countRows, emit, h, helixLabel, keepNewerComments, loadComments, num, onConnect, page, renderBars, setStatus, socket, syncList, t } from "./socket.js";
import { countdown } from "./timer.js";
import {
  compactText, diagnosisText, evidenceBox, fillEvidence, hasDiagnosis, hasEvidence, loadSectors, sectorPicker, sectorsOf,
} from "./evidence.js";

const $ = (id) => document.getElementById(id);
setupCharts(SIZES.console);
const WID = page.workshop_id;
const PHASES = page.phases || [];
const LOCKED = ["vote", "results", "decide", "closed"]; // the method cannot change from the vote on
const BEFORE_VOTE = ["lobby", "vision", "propose", "discuss"]; // an under-represented helix can still be brought in
const PANELS = ["lobby", "vision", "propose", "discuss", "vote", "results", "decide", "closed"];
/** The panel that goes with a phase (a phase without its own panel shows the lobby's). */
const panelOf = (phase) => (PANELS.includes(phase) ? phase : "lobby");

let state = null;
let results = null;
const statusEl = $("console-status");

// ---------------------------------------------------------------- sending, never replaying

/** Connected, and the connect hook (facilitate) has answered. */
const online = () => socket.connected && window.edpReady === true;

let held = null; // {label, send}: an action clicked while offline, and how to send it

function showHeld() {
  const notice = $("offline-notice");
  notice.hidden = !held;
  if (!held) return;
  const on = online();
  notice.dataset.kind = on ? "online" : "offline";
  $("offline-text").textContent = on
    ? t("offline_back", { action: held.label })
    : t("offline_not_sent", { action: held.label });
  $("offline-send").hidden = !on;
}

function dropHeld(focus) {
  held = null;
  showHeld();
  if (focus) $("phase-next").focus();
}

$("offline-send").addEventListener("click", () => {
  const action = held;
  dropHeld(true);
  if (action) action.send();
});
$("offline-discard").addEventListener("click", () => {
  const action = held;
  dropHeld(true);
  if (action) setStatus(statusEl, t("offline_discarded", { action: action.label }), "ok");
});
socket.on("disconnect", showHeld);

/** Keep an action clicked while offline (the latest one replaces an earlier one). */
function hold(label, send) {
  held = { label: label || t("this_action"), send };
  showHeld();
  setStatus(statusEl, "", "");
  return { ok: false, error: { code: "offline", message: t("offline") } };
}

/**
 * A facilitator event on this workshop, with feedback in the status line. Sent only while
 * connected (socket.io would otherwise buffer it and send it on reconnection, seconds or minutes
 * later); offline, it is held and the facilitator decides what happens to it.
 */
async function run(event, payload, okText, label) {
  if (!online()) return hold(label, () => run(event, payload, okText, label));
  setStatus(statusEl, t("saving"), "pending");
  const ack = await emit(event, { workshop_id: WID, ...payload });
  if (ack.ok) setStatus(statusEl, okText || t("saved"), "ok");
  else if (ack.error && ["offline", "timeout"].includes(ack.error.code)) {
    setStatus(statusEl, t("maybe_not_sent", { action: label || t("this_action") }), "error");
  } else setStatus(statusEl, (ack.error && ack.error.message) || t("error"), "error");
  return ack;
}

onConnect(async () => {
  // On every (re)connection: subscribe to the facilitator's broadcasts and take a fresh snapshot.
  const ack = await emit("facilitate", { workshop_id: WID });
  if (ack.ok) applyState(ack.state);
  else setStatus(statusEl, ack.error.message, "error");
  setTimeout(showHeld, 0); // once this hook has returned and the page is ready: offer "Send now"
});
socket.on("state", applyState);
// This facilitator logged out or changed the password elsewhere: this console is no longer theirs.
socket.on("session_ended", () => {
  socket.disconnect();
  location.assign(`/login?next=${encodeURIComponent(location.pathname)}`);
});
socket.on("comment", (c) => {
  if (addComment(state, { hidden: false, ...c })) {
    renderWall();
    renderTabs();
    const d = state.domains.find((x) => x.domain_id === c.domain_id);
    const tr = d && $("domains-body").querySelector(`tr[data-key="${d.domain_id}"]`);
    if (tr) fillDomainRow(tr, d);
  }
});
socket.on("counts", (c) => {
  if (!state) return;
  state.counts = c.counts;
  state.total = c.total;
  if (c.voted) state.voted = c.voted;
  if (c.voted_total !== undefined) state.voted_total = c.voted_total;
  if (c.invited) renderInvited(c.invited);
  renderCounts();
  renderProgress();
  renderTabs();
});
socket.on("results", (r) => {
  results = r;
  renderResults();
  renderCounts();
  renderTradeoff();
});

let lastPhase = null;

function applyState(s) {
  state = keepNewerComments(state, s);
  if (s.results) results = s.results;
  timer.update(s.workshop);
  const phase = s.workshop.phase;
  if (phase !== lastPhase) {
    // The current phase's panel comes to the front when the phase changes (and on opening,
    // unless a tab was picked already).
    if (lastPhase !== null || !picked) selectPanel(panelOf(phase));
    lastPhase = phase;
  }
  render();
  renderJoining();
  renderInvited(s.invited);
  showHeld();
}

// ---------------------------------------------------------------- joining: open or closed

/** The "close joining" switch (participants panel): closed = only rejoins get in. */
function renderJoining() {
  if (!state) return;
  const closed = state.workshop.joining === "closed";
  $("joining-state").textContent = t(closed ? "joining_closed" : "joining_open");
  $("joining-state").dataset.kind = closed ? "closed" : "open";
  $("joining-toggle").textContent = t(closed ? "open_joining" : "close_joining");
  $("joining-help").textContent = closed ? t("joining_closed_help") : "";
}

$("joining-toggle").addEventListener("click", async () => {
  if (!state) return;
  const joining = state.workshop.joining === "closed" ? "open" : "closed";
  const label = t(joining === "closed" ? "close_joining" : "open_joining");
  const ack = await run("configure", { joining }, t(joining === "closed" ? "joining_closed" : "joining_open"), label);
  if (ack.ok && state) {
    state.workshop.joining = ack.joining;
    renderJoining();
    $("joining-toggle").focus();
  }
});

// ---------------------------------------------------------------- phase and countdown

const timer = countdown($("console-timer"));
const minutesInput = $("timer-minutes");

/** The countdown asked for, in seconds: undefined when the field is empty, null when invalid. */
function timerSeconds() {
  const raw = minutesInput.value.trim();
  if (!raw) return minutesInput.validity.badInput ? null : undefined;
  const minutes = Number(raw.replace(",", "."));
  if (!Number.isFinite(minutes) || minutes < 0 || minutes > 1440) return null;
  return Math.round(minutes * 60);
}

function badMinutes() {
  setStatus(statusEl, t("timer_invalid"), "error");
  minutesInput.setAttribute("aria-invalid", "true");
  minutesInput.focus();
}
minutesInput.addEventListener("input", () => minutesInput.removeAttribute("aria-invalid"));

/** Move to a phase; with minutes filled in, start its countdown too. */
function setPhase(phase) {
  const seconds = timerSeconds();
  if (seconds === null) return badMinutes();
  const label = t(`phase_${phase}`);
  return run("phase", seconds === undefined ? { phase } : { phase, seconds }, t("phase_now", { phase: label }), label);
}

/** The phase `step` places after (1) or before (-1) the current one, or null. */
function neighbour(step) {
  if (!state) return null;
  const i = PHASES.indexOf(state.workshop.phase);
  const next = PHASES[i + step];
  return i >= 0 && next ? next : null;
}

const phaseButtons = $("phase-buttons");
for (const phase of PHASES) {
  phaseButtons.append(
    h("button", {
      type: "button", class: "phase-button", "data-phase": phase, "aria-pressed": "false",
      onclick: () => setPhase(phase),
    }, t(`phase_${phase}`)),
  );
}
$("phase-next").addEventListener("click", () => { const p = neighbour(1); if (p) setPhase(p); });
$("phase-prev").addEventListener("click", () => { const p = neighbour(-1); if (p) setPhase(p); });

$("timer-start").addEventListener("click", () => {
  const seconds = timerSeconds();
  if (!state) return;
  if (!seconds) return badMinutes();
  run("phase", { phase: state.workshop.phase, seconds }, t("timer_started"), t("start_countdown"));
});

$("timer-stop").addEventListener("click", async () => {
  if (!state) return;
  const ack = await run("phase", { phase: state.workshop.phase, seconds: 0 }, t("timer_stopped"), t("stop_countdown"));
  if (ack.ok) $("timer-start").focus(); // the stop button hides itself
});

$("method-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const method = $("method").value;
  run("configure", { method }, null, t(`method_${method}`));
});

$("reveal").addEventListener("click", () => {
  if (state) run("reveal", { shown: !state.workshop.results_shown }, null, $("reveal").textContent);
});

// ---------------------------------------------------------------- keyboard

/** True when a key press belongs to a field (typing, choosing), not to the console. */
function typing(target) {
  if (!target || !(target instanceof Element)) return false;
  return !!target.closest("input, textarea, select, [contenteditable=''], [contenteditable='true']");
}

const kbdToggle = $("kbd-toggle");
const kbdPanel = $("kbd-panel");
function showKeys(open) {
  kbdPanel.hidden = !open;
  kbdToggle.setAttribute("aria-expanded", String(open));
}
kbdToggle.addEventListener("click", () => showKeys(kbdPanel.hidden));
document.addEventListener("click", (event) => {
  if (!kbdPanel.hidden && !event.target.closest(".kbd-help")) showKeys(false);
});

document.addEventListener("keydown", (event) => {
  if (event.key === "Escape" && !kbdPanel.hidden) {
    showKeys(false);
    kbdToggle.focus();
    return;
  }
  if (!event.altKey || event.ctrlKey || event.metaKey || event.shiftKey) return;
  if (event.key !== "ArrowRight" && event.key !== "ArrowLeft") return;
  if (typing(event.target) || event.isComposing) return; // e.g. Option+arrow moves by word
  event.preventDefault(); // (Alt+arrow would also move the browser's history)
  if (event.repeat) return; // a key held down moves one phase, not several
  const phase = neighbour(event.key === "ArrowRight" ? 1 : -1);
  if (phase) setPhase(phase);
});

// ---------------------------------------------------------------- tabs

const tabs = Array.from(document.querySelectorAll('.console-tabs [role="tab"]'));
let shown = "lobby";
let picked = false; // a tab chosen by the facilitator before the first state arrived

function selectPanel(key, focus = false) {
  if (shown === "propose" && key !== "propose") markSeen(); // you have looked at them
  shown = key;
  for (const tab of tabs) {
    const on = tab.dataset.panel === key;
    tab.setAttribute("aria-selected", String(on));
    tab.tabIndex = on ? 0 : -1;
    $(tab.getAttribute("aria-controls")).hidden = !on;
    if (on && focus) tab.focus();
  }
  // One copy of the live results: beside the voting progress, or on its own panel.
  const slot = document.querySelector(`.results-slot[data-slot="${key === "vote" ? "vote" : "results"}"]`);
  const block = $("results-block");
  if (block.parentElement !== slot) slot.append(block);
  if (state) renderTabs();
}

for (const tab of tabs) {
  tab.addEventListener("click", () => {
    picked = true;
    selectPanel(tab.dataset.panel);
  });
  tab.addEventListener("keydown", (event) => {
    const i = tabs.indexOf(tab);
    const to = { ArrowRight: i + 1, ArrowLeft: i - 1, Home: 0, End: tabs.length - 1 }[event.key];
    if (to === undefined || event.altKey || event.ctrlKey || event.metaKey) return;
    event.preventDefault();
    selectPanel(tabs[(to + tabs.length) % tabs.length].dataset.panel, true);
  });
}

// New proposals since the facilitator last looked at the proposals panel (kept per workshop
// on this laptop, so a reload does not forget it).
const SEEN_KEY = `edp.console.seen.${WID}`;
let seen = (() => {
  try { return Number(localStorage.getItem(SEEN_KEY)) || 0; } catch (e) { return 0; }
})();
const proposals = () => (state ? state.domains.filter((d) => !d.seed) : []);
const isNew = (d) => !d.seed && d.domain_id > seen && (d.status === "pending" || d.status === "approved");

function markSeen() {
  if (!state) return;
  const top = proposals().reduce((m, d) => Math.max(m, d.domain_id), seen);
  if (top === seen) return;
  seen = top;
  try { localStorage.setItem(SEEN_KEY, String(seen)); } catch (e) { /* private mode */ }
  renderDomains();
  renderTabs();
}
$("mark-seen").addEventListener("click", () => {
  markSeen();
  $("domains-h").setAttribute("tabindex", "-1");
  $("domains-h").focus(); // the button hides itself
});

function renderTabs() {
  if (!state) return;
  const current = panelOf(state.workshop.phase);
  for (const tab of tabs) tab.dataset.current = tab.dataset.panel === current ? "yes" : "no";
  const badge = (key, text, kind = "count") => {
    const el = document.querySelector(`[data-badge="${key}"]`);
    el.textContent = text;
    el.dataset.kind = kind;
  };
  const fresh = proposals().filter(isNew).length;
  const waiting = state.domains.filter((d) => d.status === "pending").length;
  badge("propose", fresh ? t("new_count", { n: fresh }) : waiting ? t("waiting_count", { n: waiting }) : "", "alert");
  const comments = state.domains.reduce((n, d) => n + (d.comments || 0), 0); // counted by the server
  badge("discuss", comments ? String(comments) : "");
  badge("lobby", String(state.total || 0));
  badge("vote", state.workshop.phase === "vote" ? t("n_of_m", { n: state.voted_total || 0, m: state.total || 0 }) : "");
  const decided = (state.priorities || []).length;
  badge("decide", decided ? `${decided}/${state.workshop.max_priorities}` : "");
}

// ---------------------------------------------------------------- rendering

function render() {
  if (!state) return;
  const ws = state.workshop;
  document.body.dataset.phase = ws.phase;
  $("phase-now").textContent = t("phase_now", { phase: t(`phase_${ws.phase}`) });
  $("method-now").textContent = `· ${t("method_now", { method: t(`method_${ws.method}`) })}`;
  const at = PHASES.indexOf(ws.phase);
  for (const button of phaseButtons.children) {
    button.setAttribute("aria-pressed", String(button.dataset.phase === ws.phase));
    button.dataset.done = PHASES.indexOf(button.dataset.phase) < at ? "yes" : "no";
  }
  const next = neighbour(1);
  const prev = neighbour(-1);
  const nextButton = $("phase-next");
  nextButton.querySelector(".label").textContent = next ? t("next_phase", { phase: t(`phase_${next}`) }) : t("no_next_phase");
  nextButton.disabled = !next;
  // Previous: short on screen ("← Lobby"), whole for screen readers ("Back to Lobby").
  const prevButton = $("phase-prev");
  prevButton.querySelector(".label").textContent = prev ? t(`phase_${prev}`) : "";
  if (prev) prevButton.setAttribute("aria-label", t("previous_phase", { phase: t(`phase_${prev}`) }));
  else prevButton.removeAttribute("aria-label");
  prevButton.hidden = !prev; // nothing before the first phase
  $("timer-stop").hidden = !ws.phase_ends_at;
  const locked = LOCKED.includes(ws.phase);
  const select = $("method");
  if (document.activeElement !== select) select.value = ws.method;
  select.disabled = locked;
  $("method-apply").disabled = locked;
  $("method-note").textContent = locked ? t("method_locked") : t("method_before_vote");
  $("reveal").textContent = ws.results_shown ? t("reveal_hide") : t("reveal_show");
  $("reveal").setAttribute("aria-pressed", String(ws.results_shown));
  $("reveal-note").textContent = ws.results_shown ? t("results_shown") : t("results_hidden");
  renderCounts();
  renderProgress();
  renderResults();
  renderDomains();
  renderWall();
  renderDecide();
  renderTradeoff();
  renderVision();
  renderDiagnosis();
  renderTabs();
}

const listFormat = new Intl.ListFormat(page.language || "en", { style: "long", type: "conjunction" });
const helixList = (keys) => listFormat.format(keys.map(helixLabel));

/** The analysis' warnings of one code (the facilitator always gets them with the results). */
const warningsOf = (code) => ((results && results.warnings) || []).filter((w) => w.code === code);

/** A domain's warnings in plain words. */
function domainWarnings(domainId) {
  return ((results && results.warnings) || []).filter((w) => w.domain_id === domainId).map((w) => {
    if (w.code === "one_helix") return { code: w.code, text: t("warn_one_helix", { helix: helixLabel(w.helix) }) };
    if (w.code === "polarised" && w.high && w.low && w.high.length && w.low.length) {
      return { code: w.code, text: t("warn_polarised_who", { high: helixList(w.high), low: helixList(w.low) }) };
    }
    return { code: w.code, text: t("warn_polarised") };
  });
}

const warningBadges = (domainId) =>
  domainWarnings(domainId).map((w) => h("span", { class: "warning-badge", "data-code": w.code }, w.text));

/** Joins by helix, with the helices nobody (or too few) came from flagged. */
function renderCounts() {
  if (!state) return;
  const rows = countRows(state.counts);
  const voters = (results && results.participation) || {};
  const under = warningsOf("under_represented");
  const flagged = new Set(under.map((w) => w.helix));
  renderBars($("counts"), rows.map((r) => {
    const notes = [];
    if (voters[r.key]) notes.push(t("voters_value", { n: voters[r.key] }));
    if (flagged.has(r.key)) notes.push(t("under_represented"));
    return { ...r, meta: notes.join(" · ") };
  }));
  for (const li of $("counts").children) li.dataset.under = flagged.has(li.dataset.key) ? "yes" : "no";
  $("total").textContent = t("participants_total", { n: state.total });
  $("counts-total").textContent = `(${t("participants_total", { n: state.total })})`;
  const note = $("participation-warning");
  const before = BEFORE_VOTE.includes(state.workshop.phase);
  note.hidden = !under.length;
  note.textContent = under.length
    ? t(before ? "under_represented_summary" : "under_represented_voting", { list: helixList(under.map((w) => w.helix)) })
    : "";
}

/** "N of M have voted", and the same by helix. */
function renderProgress() {
  if (!state) return;
  const voted = state.voted || {};
  const counts = state.counts || {};
  $("voted-summary").textContent = t("voted_of", { n: state.voted_total || 0, m: state.total || 0 });
  syncList($("voted-by-helix"), page.helices || [], (x) => x.key,
    () => h("li", { class: "bar-row" },
      h("span", { class: "bar-label" }), h("span", { class: "bar-value" }),
      h("span", { class: "bar-track", "aria-hidden": "true" }, h("span", { class: "bar-fill" }))),
    (li, x) => {
      const n = voted[x.key] || 0;
      const m = counts[x.key] || 0;
      li.querySelector(".bar-label").textContent = x.label;
      li.querySelector(".bar-value").textContent = t("n_of_m", { n, m });
      li.querySelector(".bar-fill").style.width = `${m ? Math.min(100, (100 * n) / m) : 0}%`;
      li.dataset.voted = String(n);
    });
}

function renderResults() {
  const ranking = results ? results.ranking : [];
  const participation = (results && results.participation) || {};
  const active = (page.helices || []).filter((x) => participation[x.key] > 0);
  const any = ranking.some((r) => r.voters > 0);
  $("results-empty").hidden = any;
  $("results-table").hidden = !any;
  $("results-charts").hidden = !any;
  $("warnings").hidden = !any;
  // Header: the fixed columns, then one per helix that has voters.
  const head = $("results-head");
  while (head.children.length > 7) head.lastElementChild.remove();
  for (const x of active) head.append(h("th", { scope: "col", class: "num" }, x.label));
  const body = $("results-body");
  body.replaceChildren(...ranking.map((r, i) =>
    h("tr", {},
      h("td", {}, String(i + 1)),
      h("th", { scope: "row" }, h("span", { class: "title" }, r.title), ...warningBadges(r.domain_id)),
      h("td", { class: "num" }, num(r.score)),
      h("td", { class: "num" }, num(r.balanced_score)),
      h("td", { class: "num" }, r.voters ? consensusText(r.consensus) : "–"),
      h("td", { class: "funding-cell" }, fundingCell(r.funding)),
      h("td", { class: "num" }, String(r.voters)),
      ...active.map((x) => h("td", { class: "num" }, num((r.by_helix || {})[x.key] || 0))))));
  renderWarnings(ranking);
  if (any && window.Chart) {
    // The bars of the domains with votes (at most 12), each with room for its title above it;
    // the table below has every domain.
    const bars = Math.min(12, Math.max(1, ranking.filter((r) => r.voters > 0).length));
    const height = `${Math.max(300, bars * 44 + 130)}px`;
    $("chart").parentElement.style.height = height;
    $("consensus-chart").parentElement.style.height = height;
    rankingChart($("chart"), results, SIZES.console, bars);
    consensusChart($("consensus-chart"), results, SIZES.console);
  }
}

/** Every domain warning in plain words, in ranking order, above the charts. */
function renderWarnings(ranking) {
  const titled = ranking.flatMap((r) => domainWarnings(r.domain_id).map((w) => ({ ...w, r })));
  const list = $("warnings");
  if (!titled.length) {
    list.replaceChildren(h("li", { class: "muted" }, t("no_warnings")));
    return;
  }
  list.replaceChildren(...titled.map((w) =>
    h("li", { "data-code": w.code, "data-domain": w.r.domain_id }, h("strong", {}, w.r.title), ": ", w.text)));
}

// ---------------------------------------------------------------- the line (wish-list guard)

/**
 * The trade-off at max_priorities: the short list above the line, every other approved domain
 * below it, each with score, helix-balanced score, consensus and warnings, and a note when it
 * outscores a priority that made the list (the rationale should say why).
 */
function renderTradeoff() {
  if (!state) return;
  const ws = state.workshop;
  const max = ws.max_priorities;
  const priorities = (state.priorities || []).slice().sort((a, b) => a.rank - b.rank);
  const stats = new Map((results ? results.ranking : []).map((r, i) => [r.domain_id, { ...r, place: i + 1 }]));
  const decided = new Set(priorities.map((p) => p.domain_id));
  const approved = state.domains.filter((d) => d.status === "approved" && !decided.has(d.domain_id));
  const order = (d) => (stats.has(d.domain_id) ? stats.get(d.domain_id).place : 1e9);
  const below = approved.sort((a, b) => order(a) - order(b) || a.domain_id - b.domain_id);
  const full = priorities.length >= max;
  $("line-caption").textContent = t("line_caption", { max });
  $("tradeoff").hidden = !priorities.length && !results;

  const cells = (domainId, title, lead, note) => {
    const r = stats.get(domainId);
    const voted = r && r.voters > 0;
    return [
      h("td", {}, lead),
      h("th", { scope: "row" }, h("span", { class: "title" }, title), ...(voted ? warningBadges(domainId) : [])),
      h("td", { class: "num" }, voted ? num(r.score) : "–"),
      h("td", { class: "num" }, voted ? num(r.balanced_score) : "–"),
      h("td", { class: "num" }, voted ? consensusText(r.consensus) : "–"),
      h("td", { class: "funding-cell" }, fundingCell(fundingOf(domainId))),
      h("td", { class: "note" }, voted ? note : t("no_votes_for")),
    ];
  };
  $("above-line").replaceChildren(...priorities.map((p) =>
    h("tr", { "data-domain": p.domain_id }, ...cells(p.domain_id, p.title, t("priority_n", { rank: p.rank }), ""))));

  // A domain off the list that beats a listed priority on score (or on balanced score): name
  // the best-placed priority it beats, the one whose rationale has the most to explain.
  const listed = priorities.map((p) => ({ p, r: stats.get(p.domain_id) })).filter((x) => x.r);
  const why = (r) => {
    if (!r) return "";
    const byScore = listed.find((x) => r.score > x.r.score);
    if (byScore) return t("outscores", { rank: byScore.p.rank });
    const byBalance = listed.find((x) => r.balanced_score > x.r.balanced_score);
    return byBalance ? t("outscores_balanced", { rank: byBalance.p.rank }) : "";
  };
  const placeOf = (r) => (r && r.voters > 0 ? `#${r.place}` : ""); // its place in the results
  $("line-label").textContent = full
    ? t("below_line")
    : t("not_decided", { n: max - priorities.length, max });
  $("tradeoff").dataset.full = full ? "yes" : "no";
  $("below-line").replaceChildren(...below.map((d) =>
    h("tr", { "data-domain": d.domain_id }, ...cells(d.domain_id, d.title, placeOf(stats.get(d.domain_id)), why(stats.get(d.domain_id))))));
}

// ---------------------------------------------------------------- proposals: the moderation queue

/** domain id -> titles of every domain merged into it, directly or through earlier merges. */
function lineage(domains) {
  const byId = new Map(domains.map((d) => [d.domain_id, d]));
  const includes = new Map();
  for (const d of domains) {
    if (d.status !== "merged") continue;
    const seenIds = new Set([d.domain_id]);
    let into = d.merged_into;
    while (into && !seenIds.has(into) && byId.has(into)) {
      seenIds.add(into);
      if (!includes.has(into)) includes.set(into, []);
      includes.get(into).push(d.title);
      const next = byId.get(into);
      into = next.status === "merged" ? next.merged_into : null;
    }
  }
  return includes;
}

/** A moderation action; afterwards the keyboard stays in the row (the clicked button may hide). */
async function moderate(tr, payload, label) {
  const ack = await run("moderate", payload, null, label);
  if (!ack.ok || !tr.isConnected) return ack;
  const target = ["approve", "hide", "merge-into"].map((c) => tr.querySelector(`.${c}`))
    .find((el) => el && !el.hidden && !el.closest("[hidden]"));
  if (target && !tr.contains(document.activeElement)) target.focus();
  return ack;
}

/** One click: merge `d` into a near-duplicate (approving that one first if it still waits). */
async function mergeInto(tr, d, hint) {
  const target = state.domains.find((x) => x.domain_id === hint.domain_id);
  const label = t("merge_into_similar", { title: hint.title });
  if (!online()) return hold(label, () => mergeInto(tr, d, hint)); // both steps, later
  if (target && target.status === "pending") {
    const ack = await run("moderate", { domain_id: target.domain_id, action: "approve" }, null, label);
    if (!ack.ok) return;
  }
  const ack = await moderate(tr, { domain_id: d.domain_id, action: "merge", into: hint.domain_id }, label);
  if (ack.ok) setStatus(statusEl, t("merged_done", { title: d.title, into: hint.title }), "ok");
}

// The queue: newest first; with moderation before publication, what waits comes first; what
// left the ballot (hidden, merged) goes to the end.
function queueOrder(a, b) {
  const pre = page.moderation === "pre" || state.workshop.moderation === "pre";
  const rank = (d) => (pre && d.status === "pending" ? 0 : d.status === "hidden" || d.status === "merged" ? 2 : 1);
  return rank(a) - rank(b) || b.domain_id - a.domain_id;
}

let domainTitles = new Map();
let domainIncludes = new Map();
let mergeTargets = [];

function renderDomains() {
  if (!state) return;
  const domains = state.domains.slice().sort(queueOrder);
  mergeTargets = domains.filter((d) => d.status === "approved").sort((a, b) => a.domain_id - b.domain_id);
  domainTitles = new Map(domains.map((d) => [d.domain_id, d.title]));
  domainIncludes = lineage(domains);
  const waiting = domains.filter((d) => d.status === "pending").length;
  const queue = $("queue-note");
  queue.hidden = !waiting;
  queue.textContent = waiting ? t("queue_waiting", { n: waiting }) : "";
  const fresh = domains.filter(isNew).length;
  $("new-note").hidden = !fresh;
  $("new-text").textContent = fresh ? t("new_since", { n: fresh }) : "";
  syncList($("domains-body"), domains, (d) => d.domain_id, createDomainRow, fillDomainRow);
}

function createDomainRow(d) {
  const id = d.domain_id;
  let tr;
  const merge = () => {
    const into = Number(tr.querySelector(".merge-into").value);
    if (!into) {
      setStatus(statusEl, t("choose_domain"), "error");
      tr.querySelector(".merge-into").focus();
      return;
    }
    moderate(tr, { domain_id: id, action: "merge", into }, t("merge_domain", { title: tr.dataset.title }));
  };
  tr = h("tr", {},
    h("th", { scope: "row" },
      h("span", { class: "title" }),
      h("span", { class: "meta" },
        h("span", { class: "badge new-badge" }), h("span", { class: "badge helix-badge" }), h("span", { class: "badge seed-badge" })),
      h("span", { class: "desc small muted" }),
      h("ul", { class: "hints" }),
      h("span", { class: "lineage small" })),
    h("td", { class: "status-cell" }),
    h("td", { class: "num comments" }),
    h("td", {}, h("div", { class: "actions" },
      h("button", { type: "button", class: "small-button approve", onclick: () => moderate(tr, { domain_id: id, action: "approve" }, t("approve_domain", { title: tr.dataset.title })) }, t("approve")),
      h("button", { type: "button", class: "small-button hide", onclick: () => moderate(tr, { domain_id: id, action: "hide" }, t("hide_domain", { title: tr.dataset.title })) }, t("hide")),
      h("span", { class: "merge" },
        h("label", { class: "visually-hidden", for: `merge-${id}` }),
        h("select", { id: `merge-${id}`, class: "merge-into" }),
        h("button", { type: "button", class: "small-button merge-button", onclick: merge }, t("merge"))))));
  return tr;
}

function fillDomainRow(tr, d) {
  tr.dataset.status = d.status;
  tr.dataset.title = d.title;
  tr.dataset.new = isNew(d) ? "yes" : "no";
  tr.querySelector(".title").textContent = d.title;
  tr.querySelector(".new-badge").textContent = isNew(d) ? t("new_badge") : "";
  tr.querySelector(".helix-badge").textContent = d.helix ? helixLabel(d.helix) : "";
  tr.querySelector(".seed-badge").textContent = d.seed ? t("seed_domain") : "";
  tr.querySelector(".desc").textContent = d.description || "";
  const statusText = d.status === "merged" && d.merged_into
    ? t("merged_into", { title: domainTitles.get(d.merged_into) || "?" })
    : t(`status_${d.status}`);
  tr.querySelector(".status-cell").textContent = statusText;
  const merged = domainIncludes.get(d.domain_id) || [];
  const lineageEl = tr.querySelector(".lineage");
  lineageEl.textContent = merged.length ? t("includes", { list: merged.join("; ") }) : "";
  lineageEl.hidden = !merged.length;
  tr.querySelector(".comments").textContent = String(d.comments || 0);
  tr.querySelector(".approve").hidden = d.status === "approved";
  tr.querySelector(".hide").hidden = d.status === "hidden";
  const targets = mergeTargets.filter((x) => x.domain_id !== d.domain_id);
  tr.querySelector(".merge").hidden = d.status === "merged" || !targets.length;
  tr.querySelector(".merge label").textContent = t("merge_into", { title: d.title });
  tr.querySelector(".approve").setAttribute("aria-label", t("approve_domain", { title: d.title }));
  tr.querySelector(".hide").setAttribute("aria-label", t("hide_domain", { title: d.title }));
  tr.querySelector(".merge-button").setAttribute("aria-label", t("merge_domain", { title: d.title }));
  const select = tr.querySelector("select");
  if (document.activeElement !== select) {
    const keep = select.value;
    select.replaceChildren(
      h("option", { value: "" }, t("choose_domain")),
      ...targets.map((x) => h("option", { value: x.domain_id }, x.title)));
    select.value = targets.some((x) => String(x.domain_id) === keep) ? keep : "";
  }
  fillDomainDetail(tr, d);
  // Near-duplicates (open ones only), each with its one-click merge.
  const open = d.status === "pending" || d.status === "approved";
  const byId = new Map(state.domains.map((x) => [x.domain_id, x]));
  const hints = open ? (d.similar || []).filter((x) => {
    const other = byId.get(x.domain_id);
    return other && (other.status === "pending" || other.status === "approved");
  }) : [];
  syncList(tr.querySelector(".hints"), hints, (x) => x.domain_id,
    (x) => h("li", { class: "hint" },
      h("span", { class: "hint-text" }),
      h("button", { type: "button", class: "small-button secondary merge-similar", onclick: () => mergeInto(tr, byId.get(d.domain_id) || d, x) })),
    (li, x) => {
      const title = domainTitles.get(x.domain_id) || x.title;
      li.querySelector(".hint-text").textContent = t("similar_to", { title, score: Math.round(x.score) });
      li.querySelector(".merge-similar").textContent = t("merge_into_similar", { title });
    });
}

// ---------------------------------------------------------------- comments: the wall

const wallDomain = $("wall-domain");
const wallStance = $("wall-stance");
for (const stance of ["support", "concern", "question", "evidence"]) {
  wallStance.append(h("option", { value: stance }, t(`stance_${stance}`)));
}
$("wall-filter").addEventListener("submit", (event) => event.preventDefault());
wallDomain.addEventListener("change", () => {
  const id = Number(wallDomain.value);
  if (id && !wallLoaded.has(id)) wallLoad(id);
  renderWall();
});

// The snapshot carries only the newest comments: a domain's earlier ones load page by page
// (`comments`), when the facilitator picks the domain or asks for them.
const wallLoaded = new Set();
const totalOf = (d) => (d.comments || 0) + (d.hidden_comments || 0);
async function wallLoad(domainId) {
  const ack = await loadComments(state, domainId, true, { workshop_id: WID });
  if (!ack.ok) {
    setStatus(statusEl, (ack.error && ack.error.message) || t("comments_load_failed"), "error");
    return;
  }
  wallLoaded.add(domainId);
  renderWall();
}
wallStance.addEventListener("change", () => renderWall());

const timeFormat = new Intl.DateTimeFormat(page.language || "en", { hour: "2-digit", minute: "2-digit" });
const timeOf = (iso) => {
  const ms = Date.parse(String(iso || "").replace(/(\.\d{3})\d+/, "$1"));
  return Number.isFinite(ms) ? timeFormat.format(ms) : "";
};
/** The first words of a comment, to name its buttons. */
const gist = (text) => {
  const words = String(text).split(/\s+/).filter(Boolean);
  return words.length > 8 ? `${words.slice(0, 8).join(" ")}…` : words.join(" ");
};

function renderWall() {
  if (!state) return;
  const comments = state.comments || [];
  const byDomain = new Map();
  for (const c of comments) {
    if (!byDomain.has(c.domain_id)) byDomain.set(c.domain_id, []);
    byDomain.get(c.domain_id).push(c);
  }
  // The domain filter lists the domains with comments (loaded or not), in the ballot's order.
  const withComments = state.domains.filter((d) => byDomain.has(d.domain_id) || totalOf(d) > 0).sort((a, b) => a.domain_id - b.domain_id);
  if (document.activeElement !== wallDomain) {
    const keep = wallDomain.value;
    syncList(wallDomain, [{ domain_id: "", title: t("all_domains") }, ...withComments], (d) => `o${d.domain_id}`,
      (d) => h("option", { value: d.domain_id }),
      (o, d) => { o.textContent = d.title; });
    wallDomain.value = withComments.some((d) => String(d.domain_id) === keep) ? keep : "";
  }
  const domainFilter = Number(wallDomain.value) || null;
  const stanceFilter = wallStance.value;
  const groups = withComments
    .filter((d) => !domainFilter || d.domain_id === domainFilter)
    .map((d) => ({ d, items: (byDomain.get(d.domain_id) || []).filter((c) => !stanceFilter || c.stance === stanceFilter) }))
    .filter((g) => g.items.length || earlier(g.d));
  const shownCount = state.domains.reduce((n, d) => n + (d.comments || 0), 0);
  const hiddenCount = state.domains.reduce((n, d) => n + (d.hidden_comments || 0), 0);
  $("wall-count").textContent = !(shownCount + hiddenCount) ? ""
    : hiddenCount ? `(${t("wall_count", { n: shownCount, hidden: hiddenCount })})`
      : `(${shownCount})`;
  $("wall-empty").hidden = groups.length > 0;
  $("wall-empty").textContent = comments.length ? t("wall_none_match") : t("no_comments");
  syncList($("wall"), groups, (g) => g.d.domain_id,
    (g) => h("section", { class: "wall-group" }, h("h3", {}, h("span", { class: "title" }), " ", h("span", { class: "muted count" })), h("ul", { class: "wall-list" }),
      h("button", { type: "button", class: "small-button secondary older", onclick: () => wallLoad(g.d.domain_id) }, t("comments_older"))),
    (section, g) => {
      section.querySelector(".title").textContent = g.d.title;
      section.querySelector(".count").textContent = `(${t("comments_count", { n: g.d.comments || 0 })})`;
      const items = g.items.slice().sort((a, b) => b.comment_id - a.comment_id); // newest first
      syncList(section.querySelector(".wall-list"), items, (c) => c.comment_id, createComment, fillComment);
      section.querySelector(".older").hidden = !earlier(g.d);
    });
}

/** Whether the server holds comments on `d` that this page has not loaded. */
function earlier(d) {
  const loaded = (state.comments || []).filter((c) => c.domain_id === d.domain_id).length;
  if (state.older && d.domain_id in state.older) return Boolean(state.older[d.domain_id]);
  return loaded < totalOf(d);
}

function createComment(c) {
  let li;
  li = h("li", { class: "wall-item" },
    h("div", { class: "who" },
      h("span", { class: "stance" }), h("span", { class: "badge helix-badge" }),
      h("span", { class: "muted at" }), h("span", { class: "badge hidden-badge" }),
      h("button", {
        type: "button", class: "small-button secondary toggle", onclick: async () => {
          const hide = li.dataset.hidden !== "yes";
          const text = gist(li.querySelector(".text").textContent);
          const label = t(hide ? "hide_comment" : "restore_comment", { text });
          const ack = await run("moderate", { comment_id: c.comment_id, action: hide ? "hide" : "restore" },
            t(hide ? "comment_hidden" : "comment_restored"), label);
          if (ack.ok) {
            const item = (state.comments || []).find((x) => x.comment_id === c.comment_id);
            if (item) item.hidden = ack.hidden !== undefined ? ack.hidden : hide;
            renderWall();
            renderTabs();
            li.querySelector(".toggle").focus();
          }
        },
      })),
    h("p", { class: "text" }));
  return li;
}

function fillComment(li, c) {
  li.dataset.stance = c.stance;
  li.dataset.hidden = c.hidden ? "yes" : "no";
  li.querySelector(".stance").textContent = t(`stance_${c.stance}`);
  li.querySelector(".helix-badge").textContent = c.helix ? helixLabel(c.helix) : "";
  li.querySelector(".at").textContent = timeOf(c.at);
  li.querySelector(".hidden-badge").textContent = c.hidden ? t("status_hidden") : "";
  li.querySelector(".text").textContent = c.text;
  const button = li.querySelector(".toggle");
  button.textContent = c.hidden ? t("restore") : t("hide");
  button.setAttribute("aria-label", t(c.hidden ? "restore_comment" : "hide_comment", { text: gist(c.text) }));
}

// ---------------------------------------------------------------- decide

function renderDecide() {
  const ws = state.workshop;
  const inDecide = ws.phase === "decide";
  const priorities = state.priorities || [];
  const byDomain = new Map(priorities.map((p) => [p.domain_id, p]));
  $("priorities-count").textContent = `(${t("priorities_count", { n: priorities.length, max: ws.max_priorities })})`;
  $("decide-note").textContent = inDecide ? "" : t("decide_only");
  $("decide-note").hidden = inDecide;
  syncList($("shortlist"), priorities, (p) => p.domain_id,
    () => h("li", { class: "priority" }, h("strong", { class: "title" }), " ", h("span", { class: "rationale muted" })),
    (li, p) => {
      li.querySelector(".title").textContent = `${t("priority_n", { rank: p.rank })}: ${p.title}`;
      li.querySelector(".rationale").textContent = p.rationale;
    });
  // Approved domains in results order, each with its decision form.
  const order = new Map((results ? results.ranking : []).map((r, i) => [r.domain_id, i]));
  const approved = state.domains.filter((d) => d.status === "approved")
    .sort((a, b) => (order.get(a.domain_id) ?? 1e9) - (order.get(b.domain_id) ?? 1e9) || a.domain_id - b.domain_id);
  syncList($("decide-list"), approved, (d) => d.domain_id,
    (d) => decideItem(d),
    (li, d) => {
      const p = byDomain.get(d.domain_id);
      li.querySelector(".title").textContent = d.title;
      li.querySelector(".decided").textContent = p ? t("decided_as", { rank: p.rank }) : "";
      li.dataset.decided = p ? "yes" : "no";
      fillDecideFunding(li, d);
      fillDecideEvidence(li, d);
      const form = li.querySelector("form");
      if (!form.dataset.dirty) {
        form.elements.rank.value = p ? p.rank : "";
        form.elements.rationale.value = p ? p.rationale : "";
        form.elements.indicators.value = p ? (p.indicators || []).map(indicatorLine).join("\n") : "";
        // Only a state that carries funders shows them and lets the form clear them (see the
        // submit handler); otherwise the field keeps what was typed last.
        const knows = p && Array.isArray(p.funders);
        if (!p || knows) form.elements.funders.value = knows ? p.funders.join("\n") : "";
        form.dataset.knowsFunders = knows ? "yes" : "";
      }
      form.elements.rank.max = ws.max_priorities;
      form.querySelector(".save").disabled = !inDecide;
      const undo = form.querySelector(".undecide");
      undo.hidden = !p;
      undo.disabled = !inDecide;
    });
}

/** Non-empty trimmed lines of a textarea. */
const lines = (text) => text.split("\n").map((x) => x.trim()).filter(Boolean);

/** "name | baseline | target" -> an indicator; a line without "|" stays a plain string. */
function parseIndicator(line) {
  const [name, baseline, target] = line.split("|").map((x) => x.trim());
  if (!name) return null;
  if (!baseline && !target) return name;
  const item = { name };
  if (baseline) item.baseline = baseline;
  if (target) item.target = target;
  return item;
}

/** The line the form shows for a recorded indicator (the inverse of parseIndicator). */
function indicatorLine(item) {
  if (typeof item === "string") return item;
  const parts = [item.name || "", item.baseline || "", item.target || ""];
  while (parts.length > 1 && !parts[parts.length - 1]) parts.pop();
  return parts.join(" | ");
}

function decideItem(d) {
  const id = d.domain_id;
  const field = (name) => `decide-${id}-${name}`;
  const form = h("form", { class: "decide-form stack" },
    h("label", { for: field("rank") }, t("rank_label")),
    h("input", { id: field("rank"), name: "rank", type: "number", min: 1, inputmode: "numeric", required: true, class: "rank-input" }),
    h("label", { for: field("rationale") }, t("rationale_label")),
    h("textarea", { id: field("rationale"), name: "rationale", rows: 3, maxlength: 5000, required: true }),
    h("label", { for: field("indicators") }, t("indicators_label")),
    h("p", { id: field("indicators-help"), class: "small muted" }, t("indicators_help")),
    h("textarea", { id: field("indicators"), name: "indicators", rows: 3, "aria-describedby": field("indicators-help") }),
    h("label", { for: field("funders") }, t("funders_label")),
    h("textarea", { id: field("funders"), name: "funders", rows: 2 }),
    h("div", { class: "button-row" },
      h("button", { type: "submit", class: "primary save" }, t("save_priority")),
      h("button", {
        type: "button", class: "secondary undecide", onclick: async () => {
          const ack = await run("undecide", { domain_id: id }, null, t("undecide"));
          if (ack.ok) delete form.dataset.dirty;
        },
      }, t("undecide"))));
  form.addEventListener("input", () => { form.dataset.dirty = "yes"; });
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const indicators = lines(form.elements.indicators.value).map(parseIndicator).filter(Boolean);
    const funders = lines(form.elements.funders.value);
    const payload = {
      domain_id: id,
      rank: Number(form.elements.rank.value),
      rationale: form.elements.rationale.value.trim(),
      indicators,
    };
    // Sent when there is something to record, or when the form showed the recorded funders
    // (then an empty list clears them); otherwise the server keeps what it has.
    if (funders.length || form.dataset.knowsFunders) payload.funders = funders;
    const ack = await run("decide", payload, null, t("save_priority"));
    if (ack.ok) {
      delete form.dataset.dirty;
      render();
    }
  });
  return h("li", { class: "card decide-item" },
    h("details", {},
      h("summary", {}, h("span", { class: "summary-text" },
        h("span", { class: "title" }), " ", h("span", { class: "decided badge" }))),
      form));
}

// ---------------------------------------------------------------- personal invitations

/** "N invited joined · M walk-ins" under the counts, and the walk-ins by helix (the
 * facilitator's `state` and `counts` carry `invited`; edp/invitations.py). */
function renderInvited(invited) {
  const el = $("invited-summary");
  if (!invited || (!invited.invitations && !invited.joined)) {
    el.hidden = true;
    return;
  }
  let text = t("invited_summary", { joined: invited.joined, invitations: invited.invitations, walk_ins: invited.walk_ins });
  const split = Object.entries(invited.walk_ins_by_helix || {}).filter(([, n]) => n > 0);
  if (split.length) text += ` (${split.map(([key, n]) => `${helixLabel(key)} ${num(n)}`).join(", ")})`;
  el.textContent = text;
  el.hidden = false;
}

// ---------------------------------------------------------------- the method: vision, SWOT, funders' signal

const REACTIONS = ["agree", "disagree", "pass"];
const QUADRANTS = ["strength", "weakness", "opportunity", "threat"];
const SIGNALS = ["yes", "maybe", "no"];

// The statements with their reactions (`vision`, coalesced); the facilitator's copy has every
// helix and the hidden statements.
socket.on("vision", (v) => {
  if (!state || !v || v.workshop_id !== WID) return;
  state.vision = v.statements || [];
  renderVision();
});

// A new SWOT item comes as itself, not as a new state.
socket.on("swot", (item) => {
  if (!state || !item) return;
  const d = state.domains.find((x) => x.domain_id === item.domain_id);
  if (!d) return;
  d.swot = d.swot || [];
  if (d.swot.some((x) => x.item_id === item.item_id)) return;
  d.swot.push({ hidden: false, ...item });
  const tr = $("domains-body").querySelector(`tr[data-key="${d.domain_id}"]`);
  if (tr) fillDomainDetail(tr, d);
});

/** Agreement across groups as a percentage; "–" when no group is big enough to count. */
const agreementText = (x) => (x === null || x === undefined ? "–" : pct(x));

/** Adopted first, then the broadest agreement (the server's order, kept after a local change). */
function visionOrder(a, b) {
  return (a.adopted ? 0 : 1) - (b.adopted ? 0 : 1) || (b.agreement || 0) - (a.agreement || 0) || a.statement_id - b.statement_id;
}

function renderVision() {
  if (!state) return;
  const statements = state.vision || [];
  const shown = statements.filter((s) => !s.hidden).sort(visionOrder);
  const adopted = shown.filter((s) => s.adopted).length;
  $("vision-count").textContent = statements.length ? `(${t("vision_count", { n: shown.length, adopted })})` : "";
  $("vision-empty").hidden = statements.length > 0;
  document.querySelector("#panel-vision .reaction-legend").hidden = !statements.length;
  // Hidden statements go to the end, greyed, each with Restore.
  const order = [...shown, ...statements.filter((s) => s.hidden)];
  const focused = document.activeElement && $("statements").contains(document.activeElement) ? document.activeElement : null;
  syncList($("statements"), order, (s) => s.statement_id, createStatement, fillStatement);
  if (focused && focused.isConnected && document.activeElement !== focused) focused.focus(); // moved, not lost
  const badge = document.querySelector('[data-badge="vision"]');
  badge.textContent = shown.length ? String(shown.length) : "";
  badge.dataset.kind = "count";
}

/** The reactions of one helix (or of everyone) as "3 agree · 1 disagree · 0 pass". */
const reactionText = (c) => t("reaction_counts", { agree: c.agree || 0, disagree: c.disagree || 0, pass: c.pass || 0 });

function createStatement(s) {
  const id = s.statement_id;
  let li;
  const text = () => gist(li.querySelector(".st-text").textContent);
  const update = (ack) => {
    const item = (state.vision || []).find((x) => x.statement_id === id);
    if (item) {
      if (ack.adopted !== undefined) item.adopted = ack.adopted;
      if (ack.hidden !== undefined) item.hidden = ack.hidden;
    }
    renderVision();
  };
  li = h("li", { class: "statement" },
    h("div", { class: "st-main" },
      h("p", { class: "st-text" }),
      h("p", { class: "st-facts" },
        h("span", { class: "badge adopted-badge" }), h("span", { class: "badge hidden-badge" }),
        h("span", { class: "st-agreement" }), " ", h("span", { class: "st-totals muted" })),
      h("div", { class: "button-row st-actions" },
        h("button", {
          type: "button", class: "small-button adopt", "aria-pressed": "false", onclick: async () => {
            const adopted = li.dataset.adopted !== "yes";
            const ack = await run("adopt", { statement_id: id, adopted },
              t(adopted ? "statement_adopted" : "statement_unadopted"), t("adopt_statement", { text: text() }));
            if (ack.ok) {
              update(ack);
              li.querySelector(".adopt").focus();
            }
          },
        }, t("adopt")),
        h("button", {
          type: "button", class: "small-button secondary toggle", onclick: async () => {
            const hide = li.dataset.hidden !== "yes";
            const ack = await run("vision_moderate", { statement_id: id, action: hide ? "hide" : "restore" },
              t(hide ? "statement_hidden" : "statement_restored"), t(hide ? "hide_statement" : "restore_statement", { text: text() }));
            if (ack.ok) {
              update(ack);
              li.querySelector(".toggle").focus();
            }
          },
        }))),
    h("ul", { class: "st-helices", "aria-label": t("reactions_by_group") }));
  return li;
}

function fillStatement(li, s) {
  li.dataset.adopted = s.adopted ? "yes" : "no";
  li.dataset.hidden = s.hidden ? "yes" : "no";
  li.querySelector(".st-text").textContent = s.text;
  li.querySelector(".adopted-badge").textContent = s.adopted ? t("adopted") : "";
  li.querySelector(".hidden-badge").textContent = s.hidden ? t("status_hidden") : "";
  li.querySelector(".st-agreement").textContent = t("agreement_value", { value: agreementText(s.agreement) });
  li.querySelector(".st-totals").textContent = `· ${reactionText(s)}`;
  const adopt = li.querySelector(".adopt");
  adopt.setAttribute("aria-pressed", String(Boolean(s.adopted)));
  adopt.setAttribute("aria-label", t("adopt_statement", { text: gist(s.text) }));
  adopt.disabled = Boolean(s.hidden); // a hidden statement cannot be adopted
  const toggle = li.querySelector(".toggle");
  toggle.textContent = s.hidden ? t("restore") : t("hide");
  toggle.setAttribute("aria-label", t(s.hidden ? "restore_statement" : "hide_statement", { text: gist(s.text) }));
  // Reactions by helix, in the workshop's helix order: agree, disagree and pass as one bar.
  const byHelix = s.by_helix || {};
  const known = (page.helices || []).map((x) => x.key);
  const keys = [...known.filter((k) => byHelix[k]), ...Object.keys(byHelix).filter((k) => !known.includes(k))];
  syncList(li.querySelector(".st-helices"), keys.map((key) => ({ key, ...byHelix[key] })), (x) => x.key,
    () => h("li", { class: "st-helix" },
      h("span", { class: "st-helix-label" }),
      h("span", { class: "st-track", "aria-hidden": "true" },
        ...REACTIONS.map((r) => h("span", { class: "st-seg", "data-reaction": r }))),
      // "2 · 1 · 0" in the legend's colours on screen, the words for screen readers.
      h("span", { class: "st-helix-counts", "aria-hidden": "true" },
        ...REACTIONS.map((r) => h("span", { class: "st-n", "data-reaction": r }))),
      h("span", { class: "st-helix-words visually-hidden" })),
    (row, x) => {
      const total = REACTIONS.reduce((n, r) => n + (x[r] || 0), 0) || 1;
      row.querySelector(".st-helix-label").textContent = helixLabel(x.key);
      for (const n of row.querySelectorAll(".st-n")) n.textContent = num(x[n.dataset.reaction] || 0);
      row.querySelector(".st-helix-words").textContent = reactionText(x);
      for (const seg of row.querySelectorAll(".st-seg")) seg.style.width = `${(100 * (x[seg.dataset.reaction] || 0)) / total}%`;
    });
}

$("vision-add").addEventListener("submit", async (event) => {
  event.preventDefault();
  const input = $("vision-text");
  const text = input.value.trim();
  if (!text) {
    setStatus(statusEl, t("vision_text_required"), "error");
    input.focus();
    return;
  }
  const ack = await run("vision_moderate", { action: "add", text }, t("statement_added"), t("add_statement"));
  if (ack.ok) {
    input.value = "";
    state.vision = state.vision || [];
    if (!state.vision.some((s) => s.statement_id === ack.statement_id)) {
      state.vision.push({ statement_id: ack.statement_id, text, agree: 0, disagree: 0, pass: 0, agreement: null,
        groups: 0, adopted: false, hidden: false, by_helix: {} });
    }
    renderVision();
  }
});

/** A domain's funders' signal: the counts in state, else in the results. */
function fundingOf(domainId) {
  const d = state && state.domains.find((x) => x.domain_id === domainId);
  if (d && d.funding) return d.funding;
  const r = results && (results.ranking || []).find((x) => x.domain_id === domainId);
  return r ? r.funding : null;
}

const fundingTotal = (f) => (f ? SIGNALS.reduce((n, k) => n + (Number(f[k]) || 0), 0) : 0);

/** Yes / maybe / no as three labelled counts: an axis of its own, never mixed into a score. */
function fundingChips(f) {
  return h("span", { class: "funding" },
    ...SIGNALS.map((k) => h("span", { class: "fund", "data-signal": k }, `${t(`funding_${k}`)} ${num((f && f[k]) || 0)}`)));
}

/** The funders' cell of the results and of the line: the three counts, or "–" before any. */
const fundingCell = (f) => (fundingTotal(f) ? fundingChips(f) : "–");

/** A domain's detail in the moderation queue: its SWOT by quadrant, with the helix behind each
 * item and Hide / Restore, and the funders' signal with the instruments they named. */
function fillDomainDetail(tr, d) {
  const cell = tr.querySelector("th");
  const items = d.swot || [];
  const f = d.funding || {};
  let box = cell.querySelector(".domain-detail");
  const method = items.length > 0 || fundingTotal(f) > 0;
  // The region's evidence and "Link sectors" once the workshop has the data (or a link).
  const evidence = hasDiagnosis(state) || hasEvidence(d);
  if (!method && !evidence) {
    if (box) box.hidden = true;
    return;
  }
  if (!box) {
    box = h("details", { class: "domain-detail" },
      h("summary", {}, h("span", { class: "summary-text" })),
      h("div", { class: "swot-grid" },
        ...QUADRANTS.map((q) => h("div", { class: "quadrant", "data-quadrant": q },
          h("p", { class: "quadrant-title" }), h("ul", { class: "swot-list", "aria-label": t(`swot_${q}`) }),
          h("p", { class: "quadrant-empty muted small" }, t("swot_quadrant_empty"))))),
      h("div", { class: "funding-line" }),
      h("div", { class: "evidence-part" }));
    cell.append(box);
  }
  box.hidden = false;
  box.querySelector(".swot-grid").hidden = !method;
  box.querySelector(".funding-line").hidden = !method;
  const visible = items.filter((x) => !x.hidden).length;
  const summary = [];
  if (method) summary.push(t("swot_count", { n: visible }));
  if (fundingTotal(f)) summary.push(t("funding_counts", { yes: f.yes || 0, maybe: f.maybe || 0, no: f.no || 0 }));
  if (evidence) summary.push(hasEvidence(d) ? t("evidence_summary", { text: compactText(d) }) : t("evidence_none"));
  box.querySelector(".summary-text").textContent = summary.join(" · ");
  fillDetailEvidence(box.querySelector(".evidence-part"), d);
  for (const q of QUADRANTS) {
    const quadrant = box.querySelector(`.quadrant[data-quadrant="${q}"]`);
    const mine = items.filter((x) => x.quadrant === q).sort((a, b) => a.item_id - b.item_id);
    quadrant.querySelector(".quadrant-title").textContent = `${t(`swot_${q}`)} (${mine.filter((x) => !x.hidden).length})`;
    quadrant.querySelector(".quadrant-empty").hidden = mine.length > 0;
    syncList(quadrant.querySelector(".swot-list"), mine, (x) => x.item_id, (x) => createSwotItem(tr, d, x), fillSwotItem);
  }
  const line = box.querySelector(".funding-line");
  line.replaceChildren(h("strong", {}, t("funding_title")), " ",
    fundingTotal(f) ? fundingChips(f) : t("funding_none"));
  if ((f.instruments || []).length) line.append(" ", h("span", { class: "small" }, t("instruments_named", { list: f.instruments.join("; ") })));
}

function createSwotItem(tr, d, x) {
  let li;
  li = h("li", { class: "swot-item" },
    h("span", { class: "swot-text" }),
    h("span", { class: "who" }, h("span", { class: "badge helix-badge" }), h("span", { class: "badge hidden-badge" })),
    h("button", {
      type: "button", class: "small-button secondary toggle", onclick: async () => {
        const hide = li.dataset.hidden !== "yes";
        const text = gist(li.querySelector(".swot-text").textContent);
        const ack = await run("swot_moderate", { item_id: x.item_id, action: hide ? "hide" : "restore" },
          t(hide ? "swot_hidden_done" : "swot_restored_done"), t(hide ? "hide_swot" : "restore_swot", { text }));
        if (ack.ok) {
          // The state may have been replaced meanwhile: change the current copy.
          const current = state.domains.find((y) => y.domain_id === d.domain_id) || d;
          const item = (current.swot || []).find((y) => y.item_id === x.item_id);
          if (item) item.hidden = ack.hidden !== undefined ? ack.hidden : hide;
          const row = tr.isConnected ? tr : $("domains-body").querySelector(`tr[data-key="${d.domain_id}"]`);
          if (row) fillDomainDetail(row, current);
          const again = row && row.querySelector(`.swot-item[data-key="${x.item_id}"] .toggle`);
          if (again) again.focus();
        }
      },
    }));
  return li;
}

function fillSwotItem(li, x) {
  li.dataset.hidden = x.hidden ? "yes" : "no";
  li.querySelector(".swot-text").textContent = x.text;
  li.querySelector(".helix-badge").textContent = x.helix ? helixLabel(x.helix) : "";
  li.querySelector(".hidden-badge").textContent = x.hidden ? t("status_hidden") : "";
  const button = li.querySelector(".toggle");
  button.textContent = x.hidden ? t("restore") : t("hide");
  button.setAttribute("aria-label", t(x.hidden ? "restore_swot" : "hide_swot", { text: gist(x.text) }));
}

// ---- the region's evidence (issue #17)

const pickers = new Map(); // domain_id -> the sector picker of its detail
let sectorList = null; // the workshop's sectors, once fetched

/** The codes linked to a domain: its `sectors` when the state has them, else its evidence's. */
const linkedCodes = (d) => (Array.isArray(d.sectors) ? d.sectors.map((x) => (typeof x === "object" ? x.code : x))
  : sectorsOf(d).map((s) => s.code));

/** A domain's evidence in its detail, and "Link sectors": a picker sending `moderate` `link`. */
function fillDetailEvidence(part, d) {
  const id = d.domain_id;
  let box = part.querySelector(".evidence");
  if (!box) {
    box = evidenceBox("detail-evidence");
    part.append(box, h("p", { class: "evidence-none muted small" }, t("evidence_none")));
  }
  fillEvidence(box, d);
  part.querySelector(".evidence-none").hidden = hasEvidence(d);
  let form = part.querySelector(".link-sectors");
  if (!hasDiagnosis(state)) {
    if (form) form.hidden = true;
    return;
  }
  if (!form) {
    const picker = sectorPicker(`link-${id}`, { label: t("link_sectors_for", { title: d.title }) });
    picker.onChange = () => { form.dataset.dirty = "yes"; };
    pickers.set(id, picker);
    const status = h("p", { class: "row-status small", role: "status" });
    form = h("form", { class: "link-sectors stack", novalidate: true },
      picker.el,
      h("button", { type: "submit", class: "small-button secondary" }, t("save_sectors")),
      status);
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const ack = await run("moderate", { domain_id: id, action: "link", sectors: picker.chosen() },
        t("sectors_linked"), t("link_sectors_for", { title: d.title }));
      setStatus(status, ack.ok ? t("sectors_linked") : (ack.error && ack.error.message) || t("error"), ack.ok ? "ok" : "error");
      if (ack.ok) delete form.dataset.dirty;
    });
    part.append(form);
    if (sectorList) picker.setSectors(sectorList);
    else loadSectors(page.code).then((list) => {
      if (list.length) sectorList = list;
      for (const p of pickers.values()) p.setSectors(list);
    });
  }
  form.hidden = false;
  const picker = pickers.get(id);
  if (picker && !form.dataset.dirty) picker.set(linkedCodes(d));
}

/** The decide view: the evidence behind each domain, a line in its summary and in full above its form. */
function fillDecideEvidence(li, d) {
  let chip = li.querySelector(".summary-evidence");
  if (!chip) {
    chip = h("span", { class: "summary-evidence small" });
    li.querySelector(".summary-text").append(" ", chip);
  }
  chip.hidden = !hasEvidence(d);
  chip.textContent = hasEvidence(d) ? t("evidence_summary", { text: compactText(d) }) : "";
  let box = li.querySelector(".decide-evidence");
  if (!box) {
    box = evidenceBox("decide-evidence");
    li.querySelector("form").prepend(box);
  }
  fillEvidence(box, d);
}

/** The lobby's line on the region's data (source, year, sectors), beside the upload link. */
function renderDiagnosis() {
  const el = $("diagnosis-status");
  if (el && state) el.textContent = diagnosisText(state.workshop.diagnosis);
}

/** The decide view: each domain's funders' signal beside its form (and the instruments they
 * named, to copy into "Funders and instruments"). */
function fillDecideFunding(li, d) {
  const f = d.funding || {};
  let chips = li.querySelector(".summary-funding");
  if (!chips) {
    chips = h("span", { class: "summary-funding" });
    li.querySelector(".summary-text").append(" ", chips);
  }
  chips.hidden = !fundingTotal(f);
  chips.replaceChildren(h("span", { class: "visually-hidden" }, `${t("funding_title")}:`), " ", fundingChips(f));
  let line = li.querySelector(".decide-funding");
  if (!line) {
    line = h("p", { class: "decide-funding small" });
    const label = li.querySelector("form label[for$='-funders']");
    if (label) label.before(line);
    else li.querySelector("form").prepend(line);
  }
  line.replaceChildren(h("strong", {}, t("funding_title")), " ", fundingTotal(f) ? fundingChips(f) : t("funding_none"));
  if ((f.instruments || []).length) line.append(" ", t("instruments_named", { list: f.instruments.join("; ") }));
}
