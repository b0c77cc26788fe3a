// The participant's phone: join, then one view per phase, driven by `state` broadcasts.
import {
  act as sendAct, addComment, countRows, dropComment, keepNewerComments, emit, h, helixLabel, loadComments, num, onConnect, page, renderBars,
  send, setStatus, socket, syncList, t,
} from "./socket.js";
import { countdown } from "./timer.js";
import { evidenceBox, fillEvidence, hasDiagnosis, loadSectors, sectorPicker } from "./evidence.js";

const $ = (id) => document.getElementById(id);
const TOKEN_KEY = `edp.token.${page.code}`;

let state = null; // the latest public snapshot
let me = null; // this participant's ballot (join ack, then kept up to date from acks)
let results = null;
let joined = false;
let token = loadToken();
let rejoining = Boolean(token); // until the first rejoin answers, show nothing but the banner
let closedLate = false; // the workshop closed while this (new) phone was on the join form

/** A helix's or criterion's label in the page's language, when the template translated it. */
const labelOf = (item) => (item ? (item.labels && item.labels[page.language]) || item.label || item.key : "");
const SDGS = new Map((page.sdgs || []).map((g) => [g.n, g]));

/** Paint an element in a goal's UN colour (CSS custom properties; the CSP allows these). */
function paintSdg(el, n) {
  const goal = SDGS.get(Number(n));
  if (!goal) return;
  el.style.setProperty("--sdg", goal.colour);
  el.style.setProperty("--sdg-ink", goal.ink);
}
for (const el of document.querySelectorAll("[data-sdg]")) paintSdg(el, el.dataset.sdg);

function loadToken() {
  try {
    return localStorage.getItem(TOKEN_KEY);
  } catch {
    return null;
  }
}
function saveToken(value) {
  token = value;
  try {
    if (value) localStorage.setItem(TOKEN_KEY, value);
    else localStorage.removeItem(TOKEN_KEY);
  } catch {
    /* private mode: the in-memory token still rejoins after a reconnect */
  }
}

const statusEl = $("status");
let online = false; // connected and rejoined: actions go out now, not after a reconnect

// ---------------------------------------------------------------- countdown and sticky bar

let lastLeft = null;
const timer = countdown($("timer"), (left) => {
  // Announce the last minute and the end once each (the timer itself is not a live region).
  const note = $("timer-note");
  if (left !== null && lastLeft !== null) {
    if (left <= 60 && lastLeft > 60) note.textContent = t("one_minute_left");
    if (left === 0 && lastLeft > 0) note.textContent = t("time_up");
  }
  lastLeft = left;
  updateStickyBar();
});

function updateStickyBar() {
  $("sticky-bar").hidden = $("timer").hidden && $("budget").hidden && $("progress").hidden && $("rank-status").hidden;
}

// ---------------------------------------------------------------- feedback while offline

// An action sent while the connection is down waits (socket.js sends it again after the
// rejoin, with the same client_id, so it is never counted twice). Say so instead of "Saving…".
const pendingText = () => (online ? t("saving") : t("queued"));

function refreshPending() {
  const waiting = new Set([t("saving"), t("queued")]);
  for (const el of document.querySelectorAll('[data-kind="pending"]')) {
    if (waiting.has(el.textContent)) el.textContent = pendingText();
  }
}

/** socket.js `act`, with the pending text telling whether the action waits for the network. */
function act(el, event, payload, okText) {
  const done = sendAct(el, event, payload, okText);
  refreshPending();
  return done;
}

socket.on("disconnect", () => {
  online = false;
  refreshPending();
});
const approved = () => (state ? state.domains.filter((d) => d.status === "approved") : []);
const phaseName = (phase) => t(`phase_${phase}`);

// ---------------------------------------------------------------- joining

async function join(payload) {
  payload = withInvite(payload);
  // `emit`, not `send`: joining is what makes the page ready (see onConnect below).
  let ack = await emit("join", { code: page.code, language: page.language, ...payload });
  // Many phones joining at once: the server says when to try again (retry_after, seconds).
  for (let tries = 0; tries < 20 && !ack.ok && ack.error.code === "rate_limited" && ack.error.retry_after && !payload.token; tries += 1) {
    const wait = Math.min(30, ack.error.retry_after) + Math.random(); // spread the retries
    setStatus(statusEl, t("join_retry", { n: Math.ceil(wait) }), "pending");
    await new Promise((resolve) => setTimeout(resolve, wait * 1000));
    ack = await emit("join", { code: page.code, language: page.language, ...payload });
  }
  if (ack.ok) {
    saveToken(ack.token);
    joined = true;
    me = ack.state.me;
    applyState(ack.state);
    return ack;
  }
  if (payload.token && ["bad_helix", "unknown_workshop", "wrong_phase", "invite_required"].includes(ack.error.code)) {
    // The stored identity is unknown here (e.g. another database): join afresh.
    saveToken(null);
    joined = false;
    render();
  } else if (!payload.token && ack.error.code === "wrong_phase") {
    // Only a closed workshop refuses newcomers: show that instead of the form.
    closedLate = true;
    render();
  }
  setStatus(statusEl, ack.error.message, "error");
  return ack;
}

$("join-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = event.currentTarget;
  const helix = form.querySelector("input[name=helix]:checked");
  if (!helix) {
    setStatus(statusEl, t("pick_helix"), "error");
    form.querySelector("input[name=helix]").focus();
    return;
  }
  const button = form.querySelector("button[type=submit]");
  button.disabled = true;
  setStatus(statusEl, t("joining"), "pending");
  const ack = await join({
    helix: helix.value,
    name: form.elements.name.value.trim(),
    organisation: form.elements.organisation.value.trim(),
  });
  button.disabled = false;
  if (ack.ok) {
    setStatus(statusEl, t("joined"), "ok");
    $("main").focus();
  }
});

onConnect(async () => {
  // First connection or a reconnection: a stored token rejoins as the same participant.
  if (token) await join({ token });
  rejoining = false;
  online = true;
  render();
  refreshPending();
});

socket.on("state", (s) => {
  if (joined) applyState(s);
});
socket.on("comment", (c) => {
  if (joined && addComment(state, c)) render();
});
// The facilitator hid a comment: it leaves this phone too (a restore comes as a `comment`).
socket.on("comment_hidden", (c) => {
  if (joined && dropComment(state, c)) render();
});
socket.on("counts", (c) => {
  if (!state) return;
  state.counts = c.counts;
  state.total = c.total;
  renderLobby();
});
socket.on("results", (r) => {
  results = r;
  render();
});
// Our own ballot changed on the server: points returned from a domain the facilitator hid,
// or one of our proposals approved, hidden or merged.
socket.on("me", (m) => {
  if (!joined || !m) return;
  setMe(m, true);
  render();
});

const proposalKey = (p) => `${p.status}:${p.merged_into || ""}`;

/** Take the server's copy of this participant's ballot; with `announce`, say in the toast
 * what happened to any of their proposals since the last copy. */
function setMe(next, announce) {
  const before = new Map(((me && me.proposals) || []).map((p) => [p.domain_id, proposalKey(p)]));
  me = next;
  if (!announce) return;
  const changed = (next.proposals || []).filter(
    (p) => before.has(p.domain_id) && before.get(p.domain_id) !== proposalKey(p));
  if (changed.length) {
    setStatus(statusEl, changed.map((p) => t("proposal_now", { title: p.title, status: proposalStatus(p) })).join(" "), "ok");
  }
}

function applyState(s) {
  const was = state ? state.workshop.phase : null;
  state = keepNewerComments(state, s);
  results = s.results || null;
  if (s.me) setMe(s.me, Boolean(me));
  const now = state.workshop.phase;
  if (now === "vote") {
    late = null;
    lateLost = false;
  } else if (was === "vote" && sendingBallots > 0) {
    late = "pending"; // the vote closed while a change was on its way: say what became of it
  } else if (was && was !== now) {
    late = null; // said in the phase after the vote; later phases move on
  }
  timer.update(s.workshop);
  render();
}

// ---------------------------------------------------------------- rendering

const VIEWS = ["join", "lobby", "vision", "propose", "discuss", "vote", "results", "decide"];

/** A phone that has not joined a closed workshop: it sees the agreed priorities, no form. */
const closedNewcomer = () => !joined && !rejoining && (closedLate || (page.phase === "closed" && !token));

function visibleViews() {
  if (rejoining) return [];
  if (closedNewcomer()) return ["decide"];
  if (!joined || !state) return ["join"];
  const phase = state.workshop.phase;
  if (phase === "vote") return results ? ["vote", "results"] : ["vote"];
  if (phase === "results") return ["results"];
  if (phase === "decide" || phase === "closed") return results ? ["decide", "results"] : ["decide"];
  return [phase];
}

function render() {
  const shown = visibleViews();
  for (const view of VIEWS) $(`view-${view}`).hidden = !shown.includes(view);
  document.body.dataset.phase = joined && state ? state.workshop.phase : closedNewcomer() ? "closed" : "join";
  const method = shown.includes("vote") && state ? state.workshop.method : null;
  $("budget").hidden = method !== "dot";
  $("progress").hidden = method !== "score";
  $("rank-status").hidden = method !== "rank";
  updateStickyBar();
  renderLate();
  if (!joined || !state) {
    $("phase-label").textContent = rejoining ? t("connecting") : closedNewcomer() ? t("phase_now", { phase: phaseName("closed") }) : "";
    $("me-label").hidden = true;
    if (shown.includes("decide")) renderDecide();
    renderMethodParts(shown);
    return;
  }
  $("phase-label").textContent = t("phase_now", { phase: phaseName(state.workshop.phase) });
  const meLabel = $("me-label");
  meLabel.hidden = !me;
  if (me) meLabel.textContent = t("joined_as", { helix: helixLabel(me.helix) }) + (me.name ? ` · ${me.name}` : "");
  renderLobby();
  if (shown.includes("propose")) renderPropose();
  if (shown.includes("discuss")) renderDiscuss();
  if (shown.includes("propose") || shown.includes("discuss")) renderMine();
  if (shown.includes("vote")) renderVote();
  if (shown.includes("results")) renderResults();
  if (shown.includes("decide")) renderDecide();
  if (shown.includes("vision")) renderVision();
  renderMethodParts(shown);
}

function renderLobby() {
  if (!state) return;
  renderBars($("lobby-counts"), countRows(state.counts));
  $("lobby-total").textContent = `(${t("participants_total", { n: state.total })})`;
}

function badges(d) {
  const list = [];
  if (d.seed) list.push(h("span", { class: "badge" }, t("seed_domain")));
  if (me && me.proposed && me.proposed.includes(d.domain_id)) list.push(h("span", { class: "badge mine" }, t("your_proposal")));
  return list;
}

function fillDomainSummary(el, d) {
  el.querySelector(".title").textContent = d.title;
  const desc = el.querySelector(".desc");
  desc.textContent = d.description || "";
  desc.hidden = !d.description;
  const why = el.querySelector(".why");
  why.textContent = d.rationale || "";
  why.hidden = !d.rationale;
  const goals = d.sdgs || [];
  const sdgs = el.querySelector(".sdg-tags");
  sdgs.setAttribute("aria-label", t("sdgs_label"));
  sdgs.hidden = !goals.length;
  syncList(sdgs, goals, (n) => n,
    (n) => {
      const li = h("li", { class: "sdg-tag" },
        h("span", { class: "sdg-num" }, h("span", { class: "visually-hidden" }, `${t("sdg_n", { n })}: `), String(n)),
        h("span", { class: "sdg-name" }, SDGS.has(n) ? SDGS.get(n).name : ""));
      paintSdg(li, n);
      return li;
    });
  el.querySelector(".badges").replaceChildren(...badges(d));
  const evidence = el.querySelector(".evidence");
  if (evidence) fillEvidence(evidence, d);
}

const domainBody = () => [
  h("p", { class: "badges" }),
  h("p", { class: "desc" }),
  h("p", { class: "why" }),
  h("ul", { class: "sdg-tags" }),
  evidenceBox("card-evidence"),
];

function showEmpty(id, empty) {
  const el = $(id);
  el.hidden = !empty;
  el.textContent = empty ? t("no_domains") : "";
}

/** A proposal's fate in words: approved, waiting, merged into another domain, hidden. */
function proposalStatus(p) {
  if (p.status === "merged") return t("proposal_merged", { title: p.merged_into_title || "" });
  if (p.status === "hidden") return t("proposal_hidden");
  if (p.status === "pending") return t("status_pending");
  return t("status_approved");
}

/** "Your proposals", newest first, in the propose and discuss views. */
function renderMine() {
  const mine = ((me && me.proposals) || []).slice().reverse();
  for (const where of ["propose", "discuss"]) {
    $(`${where}-mine-box`).hidden = !mine.length;
    syncList($(`${where}-mine`), mine, (p) => p.domain_id,
      () => h("li", { class: "mine-item" }, h("span", { class: "title" }), " ", h("span", { class: "proposal-status" })),
      (li, p) => {
        li.dataset.status = p.status;
        li.querySelector(".title").textContent = p.title;
        li.querySelector(".proposal-status").textContent = proposalStatus(p);
      });
  }
}

// The sectors a proposal builds on: the picker shows once the workshop has the region's data.
const sectors = sectorPicker("propose", {
  onChange: (codes) => { $("sectors-chosen").textContent = codes.length ? `(${codes.length})` : ""; },
});
$("sector-picker-body").append(sectors.el);
let sectorsLoaded = false;

function renderSectorPicker() {
  const on = hasDiagnosis(state);
  $("sector-picker").hidden = !on;
  if (on && !sectorsLoaded) {
    sectorsLoaded = true;
    loadSectors(page.code).then((list) => {
      if (!list.length) sectorsLoaded = false; // none yet (or the request failed): ask again later
      sectors.setSectors(list);
    });
  }
}

function renderPropose() {
  renderSectorPicker();
  const domains = approved().slice().reverse(); // newest first
  showEmpty("propose-empty", !domains.length);
  syncList($("propose-domains"), domains, (d) => d.domain_id,
    () => h("li", { class: "card" }, h("h4", { class: "title" }), ...domainBody()),
    fillDomainSummary);
}

$("propose-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = event.currentTarget;
  const title = form.elements.title.value.trim();
  const out = $("propose-status");
  if (!title) {
    setStatus(out, t("title_required"), "error");
    form.elements.title.focus();
    return;
  }
  const sdgs = Array.from(form.querySelectorAll("input[name=sdgs]:checked")).map((x) => Number(x.value));
  const button = form.querySelector("button[type=submit]");
  button.disabled = true;
  const payload = {
    title,
    description: form.elements.description.value.trim(),
    rationale: form.elements.rationale.value.trim(),
    sdgs,
  };
  const chosen = sectors.chosen();
  if (chosen.length) payload.sectors = chosen;
  const ack = await act(out, "propose", payload, t("proposal_saved"));
  button.disabled = false;
  if (ack.ok) {
    if (me) {
      me.proposed = [...(me.proposed || []), ack.domain_id];
      if (!(me.proposals || []).some((p) => p.domain_id === ack.domain_id)) {
        me.proposals = [...(me.proposals || []), { domain_id: ack.domain_id, title, status: ack.status || "approved" }];
      }
    }
    form.reset();
    $("sdg-picker").open = false;
    showChosenSdgs();
    sectors.clear();
    $("sector-picker").open = false;
    render();
  }
});

// The folded SDG picker says which goals are ticked.
function showChosenSdgs() {
  const chosen = Array.from($("propose-form").querySelectorAll("input[name=sdgs]:checked")).map((x) => x.value);
  $("sdg-chosen").textContent = chosen.length ? `(${t("sdgs_chosen", { list: chosen.join(", ") })})` : "";
}
$("propose-form").addEventListener("change", (event) => {
  if (event.target.name === "sdgs") showChosenSdgs();
});

// Discuss: domains with their comments, and one comment form. The join ack carries only the
// newest comments; a domain's own are loaded when the participant opens it (`comments`), and
// earlier ones page by page.
const loadedDomains = new Set();

async function openComments(li, domainId, older = false) {
  const status = li.querySelector(".comments-status");
  if (!older && loadedDomains.has(domainId)) return;
  setStatus(status, t("comments_loading"), "pending");
  const ack = await loadComments(state, domainId, older);
  if (!ack.ok) {
    setStatus(status, (ack.error && ack.error.message) || t("comments_load_failed"), "error");
    return;
  }
  loadedDomains.add(domainId);
  setStatus(status, "", "");
  render();
}

function renderDiscuss() {
  const domains = approved();
  showEmpty("discuss-empty", !domains.length);
  const byDomain = new Map();
  const sorted = (state.comments || []).slice().sort((a, b) => a.comment_id - b.comment_id);
  for (const c of sorted) {
    if (!byDomain.has(c.domain_id)) byDomain.set(c.domain_id, []);
    byDomain.get(c.domain_id).push(c);
  }
  syncList($("discuss-domains"), domains, (d) => d.domain_id,
    (d) =>
      h("li", { class: "card" },
        h("details", { ontoggle: (event) => { if (event.currentTarget.open) openComments(event.currentTarget.closest("li"), d.domain_id); } },
          h("summary", {}, h("span", { class: "summary-text" },
            h("span", { class: "title" }), " ", h("span", { class: "count muted" }))),
          ...domainBody(),
          h("button", { type: "button", class: "secondary older", hidden: true, onclick: (event) => openComments(event.currentTarget.closest("li"), d.domain_id, true) },
            t("comments_older")),
          h("ul", { class: "comments" }),
          h("p", { class: "comments-status", role: "status" }),
          h("p", { class: "no-comments muted" }, t("no_comments")),
          h("button", { type: "button", class: "secondary", onclick: () => commentOn(d.domain_id) }, t("comment_on")))),
    (li, d) => {
      fillDomainSummary(li, d);
      const comments = byDomain.get(d.domain_id) || [];
      const total = Math.max(d.comments || 0, comments.length); // the server's count: not all are loaded
      li.querySelector(".count").textContent = `(${t("comments_count", { n: total })})`;
      li.querySelector(".no-comments").hidden = total > 0;
      li.querySelector(".older").hidden = !(loadedDomains.has(d.domain_id) && state.older && state.older[d.domain_id]);
      syncList(li.querySelector(".comments"), comments, (c) => c.comment_id,
        (c) =>
          h("li", { class: "comment", "data-stance": c.stance },
            h("span", { class: "stance" }, t(`stance_${c.stance}`)), " ",
            h("span", { class: "text" }, c.text), " ",
            h("span", { class: "who muted" }, `— ${helixLabel(c.helix)}`)));
    });
  const select = $("comment-domain");
  syncList(select, domains, (d) => d.domain_id,
    (d) => h("option", { value: d.domain_id }),
    (option, d) => { option.textContent = d.title; });
}

function commentOn(domainId) {
  $("comment-domain").value = String(domainId);
  $("comment-text").focus();
}

$("comment-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = event.currentTarget;
  const out = $("comment-status");
  const text = form.elements.text.value.trim();
  const domainId = Number(form.elements.domain_id.value);
  if (!text || !domainId) {
    setStatus(out, t("comment_required"), "error");
    return;
  }
  const button = form.querySelector("button[type=submit]");
  button.disabled = true;
  const ack = await act(out, "comment", {
    domain_id: domainId, stance: form.elements.stance.value, text,
  }, t("comment_saved"));
  button.disabled = false;
  if (ack.ok) form.elements.text.value = "";
});

// ---------------------------------------------------------------- voting

const desired = new Map(); // dot: domain_id -> points the participant asked for, not yet saved
const inflight = new Set();

// A ballot change on its way when the vote closes is never dropped in silence: the phone says
// it is still being sent, then whether it arrived in time (its ack) or not (wrong_phase).
let sendingBallots = 0; // vote / score / rank requests waiting for their ack
let late = null; // null | "pending" | "saved" | "lost"
let lateLost = false;

/**
 * Send one ballot action (socket.js `send`: retried after a reconnect), tracking it. A refusal
 * because the vote has closed may come for a change that did arrive in time (its first ack was
 * lost with the connection): `arrived()` checks the server's copy of the ballot (`me`, fresh
 * from the rejoin) before the phone says the change is lost.
 */
async function sendBallot(event, payload, arrived) {
  sendingBallots += 1;
  let ack;
  try {
    ack = await send(event, payload);
  } finally {
    sendingBallots -= 1;
  }
  const refused = !ack.ok && ack.error && ack.error.code === "wrong_phase";
  if (refused && !(arrived && arrived())) lateLost = true;
  if (refused || late === "pending") {
    late = sendingBallots > 0 ? "pending" : lateLost ? "lost" : "saved";
  }
  renderLate();
  return ack;
}

/** Whether the server holds any ballot of this participant (points, scores or a ranking). */
function hasBallot() {
  if (!me) return false;
  return Object.keys(me.votes || {}).length > 0 || Object.keys(me.scores || {}).length > 0
    || (me.ranking || []).length > 0;
}

function renderLate() {
  const note = $("ballot-note");
  const closed = !state || state.workshop.phase !== "vote";
  const key = late === "lost" && !hasBallot() ? "late_lost_nothing" : `late_${late}`;
  const text = late && (closed || late === "lost") ? t(key) : "";
  if (note.textContent !== text) note.textContent = text;
  note.hidden = !text;
  note.dataset.kind = { pending: "pending", saved: "ok", lost: "error" }[late] || "";
}

const savedPoints = (id) => (me && me.votes ? me.votes[String(id)] || 0 : 0);
const shownPoints = (id) => (desired.has(id) ? desired.get(id) : savedPoints(id));

function shownRemaining() {
  if (!me) return 0;
  let left = me.remaining;
  for (const [id, points] of desired) left -= points - savedPoints(id);
  return left;
}

// Anti-herding: every phone lists the domains in its own order, so the first domain on the
// screen does not collect the hurried votes. The order is a seeded shuffle: a hash of
// (participant id, domain id) sorts the domains, so it is the same on every state update and
// reload, and a domain added later slots in without reshuffling the others.
function mix(a, b) {
  let x = (Math.imul(a | 0, 0x9e3779b1) ^ Math.imul((b | 0) + 0x7f4a7c15, 0x85ebca77)) >>> 0;
  x = Math.imul(x ^ (x >>> 16), 0x7feb352d);
  x = Math.imul(x ^ (x >>> 15), 0x846ca68b);
  return (x ^ (x >>> 16)) >>> 0;
}

function shuffledForMe(domains) {
  const seed = me ? Number(me.participant_id) || 0 : 0;
  const key = new Map(domains.map((d) => [d.domain_id, mix(seed, d.domain_id)]));
  return domains.slice().sort((a, b) => key.get(a.domain_id) - key.get(b.domain_id) || a.domain_id - b.domain_id);
}

/** The workshop forbids voting for one's own proposal and this domain is one. */
const ownBlocked = (d) => state.workshop.vote_own === false && Boolean(me && me.proposed && me.proposed.includes(d.domain_id));

function renderVote() {
  const ws = state.workshop;
  const all = shuffledForMe(approved());
  // A ranking that holds one's own proposal would be refused as a whole: leave them out.
  const domains = ws.method === "rank" ? all.filter((d) => !ownBlocked(d)) : all;
  $("vote-help").textContent = t(`vote_help_${ws.method}`);
  $("vote-empty").hidden = domains.length > 0;
  $("vote-empty").textContent = t("no_domains");
  if (ws.method !== "rank") $("rank-state").hidden = true;
  const list = $("vote-list");
  $("view-vote").dataset.method = ws.method;
  if (ws.method === "dot") renderDot(list, domains, ws);
  else if (ws.method === "score") renderScore(list, domains, ws);
  else renderRank(list, domains);
}

function renderDot(list, domains, ws) {
  const left = shownRemaining();
  $("budget").textContent = t("points_left", { n: left, budget: ws.budget });
  syncList(list, domains, (d) => `dot-${d.domain_id}`,
    (d) =>
      h("li", { class: "card vote-row" },
        h("div", { class: "vote-info" }, h("h3", { class: "title" }), h("p", { class: "desc small" })),
        h("div", { class: "stepper", role: "group" },
          h("button", { type: "button", class: "step minus", onclick: () => setPoints(d.domain_id, shownPoints(d.domain_id) - 1) }, "−"),
          h("output", { class: "points" }),
          h("button", { type: "button", class: "step plus", onclick: () => setPoints(d.domain_id, shownPoints(d.domain_id) + 1) }, "+")),
        h("p", { class: "own-note small" }),
        h("p", { class: "row-status small" })),
    (li, d) => {
      const points = shownPoints(d.domain_id);
      const own = ownBlocked(d);
      li.dataset.own = own ? "yes" : "no";
      li.querySelector(".own-note").textContent = own ? t("own_no_vote") : "";
      li.querySelector(".own-note").hidden = !own;
      li.querySelector(".title").textContent = d.title;
      const desc = li.querySelector(".desc");
      desc.textContent = d.description || "";
      desc.hidden = !d.description;
      li.querySelector(".stepper").setAttribute("aria-label", t("points_for", { title: d.title }));
      li.querySelector(".points").textContent = String(points);
      li.dataset.points = String(points);
      const minus = li.querySelector(".minus");
      const plus = li.querySelector(".plus");
      minus.setAttribute("aria-label", t("remove_point", { title: d.title }));
      plus.setAttribute("aria-label", t("add_point", { title: d.title }));
      minus.disabled = own || points <= 0;
      plus.disabled = own || left <= 0 || (ws.cap && points >= ws.cap);
    });
}

function setPoints(id, points) {
  if (points < 0) return;
  desired.set(id, points);
  renderVote();
  if (!inflight.has(id)) pump(id);
}

function rowStatus(id, text, kind) {
  const li = $("vote-list").querySelector(`[data-key="dot-${id}"] .row-status`);
  if (li) setStatus(li, text, kind);
}

/** Send the latest wanted points for one domain; later clicks during a save are sent next. */
async function pump(id) {
  inflight.add(id);
  const out = $("vote-status");
  while (desired.has(id) && desired.get(id) !== savedPoints(id)) {
    const want = desired.get(id);
    rowStatus(id, pendingText(), "pending");
    setStatus(out, pendingText(), "pending");
    const ack = await sendBallot("vote", { domain_id: id, points: want }, () => savedPoints(id) === want);
    if (ack.ok) {
      if (ack.points) me.votes[String(id)] = ack.points;
      else delete me.votes[String(id)];
      me.remaining = ack.remaining;
      rowStatus(id, t("saved"), "ok");
      setStatus(out, t("saved"), "ok");
    } else {
      desired.delete(id);
      rowStatus(id, ack.error.message, "error");
      setStatus(out, ack.error.message, "error");
    }
  }
  desired.delete(id);
  inflight.delete(id);
  if (state && state.workshop.phase === "vote") renderVote();
}

function renderScore(list, domains, ws) {
  const criteria = ws.criteria || [];
  // Progress: domains with every criterion scored, out of those this participant may score.
  const mine = (d) => (me && me.scores && me.scores[String(d.domain_id)]) || {};
  const complete = (d) => criteria.every((c) => mine(d)[c.key]);
  const open = domains.filter((d) => !ownBlocked(d));
  $("progress").textContent = t("scored_progress", { n: open.filter(complete).length, total: open.length });
  syncList(list, domains, (d) => `score-${d.domain_id}`,
    (d) =>
      h("li", { class: "card score-card" },
        h("h3", { class: "title" }),
        h("p", { class: "desc small" }),
        ...criteria.map((c) =>
          h("fieldset", { class: "scale", "data-criterion": c.key },
            h("legend", {}, labelOf(c), h("span", { class: "visually-hidden" }, ` — ${d.title}`)),
            ...[1, 2, 3, 4, 5].map((v) =>
              h("label", { class: "chip" },
                h("input", {
                  type: "radio", name: `score-${d.domain_id}-${c.key}`, value: v,
                  onchange: () => sendScore(d.domain_id, c.key, v),
                }),
                h("span", {}, String(v)))))),
        h("p", { class: "own-note small" }),
        h("p", { class: "row-status small" })),
    (li, d) => {
      li.querySelector(".title").textContent = d.title;
      const own = ownBlocked(d);
      li.dataset.own = own ? "yes" : "no";
      li.querySelector(".own-note").textContent = own ? t("own_no_vote") : "";
      li.querySelector(".own-note").hidden = !own;
      for (const fieldset of li.querySelectorAll(".scale")) fieldset.disabled = own;
      li.dataset.complete = !own && complete(d) ? "yes" : "no";
      const desc = li.querySelector(".desc");
      desc.textContent = d.description || "";
      desc.hidden = !d.description;
      const given = mine(d);
      for (const c of criteria) {
        const value = given[c.key];
        for (const input of li.querySelectorAll(`[data-criterion="${c.key}"] input`)) {
          if (!sendingCriterion(d.domain_id, c.key)) input.checked = Number(input.value) === value;
        }
      }
    });
}

// Scores go out as a pump per domain, like the dot vote's: the first tap is sent at once, and
// the taps made while it is on its way go together as one card (`score` with `scores`), so a
// phone scoring five criteria quickly sends two or three events, not five. Until its ack, a
// value the phone is sending keeps its radio as tapped whatever a re-render brings.
const scoreWanted = new Map(); // domain id → {criterion: value} tapped, not sent yet
const scoreSending = new Map(); // domain id → {criterion: value} on its way
const sendingCriterion = (domainId, key) =>
  (scoreWanted.get(domainId) || {})[key] !== undefined ||
  (scoreSending.get(domainId) || {})[key] !== undefined;

async function sendScore(domainId, criterion, value) {
  scoreWanted.set(domainId, { ...(scoreWanted.get(domainId) || {}), [criterion]: value });
  const li = $("vote-list").querySelector(`[data-key="score-${domainId}"]`);
  const rowOut = li && li.querySelector(".row-status");
  setStatus(rowOut, pendingText(), "pending");
  setStatus($("vote-status"), pendingText(), "pending");
  if (scoreSending.has(domainId)) return; // goes with the next card
  while (scoreWanted.has(domainId)) {
    const card = scoreWanted.get(domainId);
    scoreWanted.delete(domainId);
    scoreSending.set(domainId, card);
    const keys = Object.keys(card);
    const payload = keys.length === 1
      ? { domain_id: domainId, criterion: keys[0], value: card[keys[0]] }
      : { domain_id: domainId, scores: card };
    const saved = () => (((me && me.scores) || {})[String(domainId)] || {});
    const ack = await sendBallot("score", payload, () => keys.every((k) => saved()[k] === card[k]));
    scoreSending.delete(domainId);
    if (ack.ok) {
      me.scores = me.scores || {};
      me.scores[String(domainId)] = { ...saved(), ...card };
    }
    const rowNow = $("vote-list").querySelector(`[data-key="score-${domainId}"] .row-status`);
    if (!scoreWanted.has(domainId)) {
      setStatus(rowNow || rowOut, ack.ok ? t("saved") : ack.error.message, ack.ok ? "ok" : "error");
      setStatus($("vote-status"), ack.ok ? t("saved") : ack.error.message, ack.ok ? "ok" : "error");
    }
  }
  renderVote();
}

// Ranking. The ballot is the order saved on the server (`me.ranking`); the phone shows it, then
// the domains it does not hold yet (all of them before the first move) in this phone's shuffled
// order. A shuffled order nobody touched is no ballot. Each move sends the whole new order at
// once (`rank` replaces the ranking, so a retry is harmless); one request at a time, and moves
// made meanwhile go next, so the latest order wins (as the dot-vote `pump`).
let rankIds = []; // the domains this phone may rank, shuffled
let rankWanted = null; // the order to save, while it differs from the saved one
let rankBusy = false;
let rankMoved = null; // the row moved last: its own line shows saving → saved
let rankError = "";
let rankExplain = "rank_none";

const sameOrder = (a, b) => a.length === b.length && a.every((x, i) => x === b[i]);
const savedRanking = () => ((me && me.ranking) || []).filter((id) => rankIds.includes(id));

function shownOrder() {
  const order = (rankWanted || (me && me.ranking) || []).filter((id) => rankIds.includes(id));
  for (const id of rankIds) if (!order.includes(id)) order.push(id);
  return order;
}

function rankState() {
  if (rankWanted) return "sending";
  if (rankError) return "error";
  const saved = savedRanking();
  if (!saved.length) return "none";
  return saved.length < rankIds.length ? "partial" : "saved";
}

function renderRank(list, domains) {
  rankIds = domains.map((d) => d.domain_id);
  const order = shownOrder();
  const saved = new Set(savedRanking());
  const stateNow = rankState();
  const status = {
    sending: [pendingText(), "pending"],
    error: [rankError, "error"],
    none: [t("rank_status_none"), "pending"],
    partial: [t("rank_status_partial"), "pending"],
    saved: [t("ranking_saved"), "ok"],
  }[stateNow];
  const bar = $("rank-status");
  if (bar.textContent !== status[0] || bar.dataset.kind !== status[1]) setStatus(bar, status[0], status[1]);
  const box = $("rank-state");
  box.hidden = !rankIds.length;
  box.dataset.state = stateNow;
  // While a change is on its way the note keeps what it said (the sticky bar shows progress).
  if (stateNow !== "sending") {
    rankExplain = stateNow === "none" || (stateNow === "error" && !saved.size) ? "rank_none"
      : stateNow === "partial" ? "rank_partial" : "rank_saved";
  }
  $("rank-note").textContent = t(rankExplain);
  $("rank-accept").hidden = !(stateNow === "none" || stateNow === "partial" || (stateNow === "error" && saved.size < rankIds.length));
  const byId = new Map(domains.map((d) => [d.domain_id, d]));
  syncList(list, order.map((id) => byId.get(id)), (d) => `rank-${d.domain_id}`,
    (d) =>
      h("li", { class: "card rank-row" },
        h("span", { class: "position", "aria-hidden": "true" }),
        h("h3", { class: "title" }),
        h("div", { class: "movers" },
          h("button", { type: "button", class: "step up", onclick: () => move(d.domain_id, -1) }, "↑"),
          h("button", { type: "button", class: "step down", onclick: () => move(d.domain_id, 1) }, "↓")),
        h("p", { class: "row-status small" })),
    (li, d) => {
      const index = order.indexOf(d.domain_id);
      const ranked = saved.has(d.domain_id);
      li.dataset.ranked = ranked ? "yes" : "no";
      li.querySelector(".position").textContent = String(index + 1);
      li.querySelector(".title").textContent = d.title;
      const up = li.querySelector(".up");
      const down = li.querySelector(".down");
      up.setAttribute("aria-label", t("move_up", { title: d.title }));
      down.setAttribute("aria-label", t("move_down", { title: d.title }));
      up.disabled = index === 0;
      down.disabled = index === order.length - 1;
      let row = ["", ""];
      if (d.domain_id === rankMoved) {
        row = stateNow === "sending" ? [pendingText(), "pending"]
          : stateNow === "error" ? [t("not_saved"), "error"] : [t("saved"), "ok"];
      } else if (saved.size && !ranked && stateNow !== "sending") {
        row = [t("not_in_ranking"), "pending"];
      }
      const rowOut = li.querySelector(".row-status");
      if (rowOut.textContent !== row[0] || rowOut.dataset.kind !== row[1]) setStatus(rowOut, row[0], row[1]);
    });
}

/** Send the latest wanted order until the saved one matches it. */
async function pumpRank() {
  if (rankBusy) return;
  rankBusy = true;
  try {
    while (rankWanted && !sameOrder(rankWanted, (me && me.ranking) || [])) {
      const order = rankWanted.slice();
      const ack = await sendBallot("rank", { order }, () => sameOrder((me && me.ranking) || [], order));
      if (ack.ok) {
        if (me) me.ranking = order;
        if (rankWanted && sameOrder(rankWanted, order)) rankWanted = null;
        rankError = "";
      } else {
        // The saved ranking stands; the list shows it again, with the reason.
        rankWanted = null;
        rankError = (ack.error && ack.error.message) || t("error");
      }
      if (state && state.workshop.phase === "vote") renderVote();
    }
  } finally {
    rankWanted = null;
    rankBusy = false;
  }
  if (state && state.workshop.phase === "vote") renderVote();
}

function move(id, delta) {
  const order = shownOrder();
  const from = order.indexOf(id);
  const to = from + delta;
  if (from < 0 || to < 0 || to >= order.length) return;
  order.splice(from, 1);
  order.splice(to, 0, id);
  rankWanted = order;
  rankMoved = id;
  rankError = "";
  renderVote();
  // Keep the keyboard on the moved item (the same button, or the other one at the edges).
  const li = $("vote-list").querySelector(`[data-key="rank-${id}"]`);
  const button = li.querySelector(delta < 0 ? ".up" : ".down");
  (button.disabled ? li.querySelector(delta < 0 ? ".down" : ".up") : button).focus();
  pumpRank();
}

// The order shown, cast as it is: for a participant who agrees with it (or has one domain).
$("rank-accept").addEventListener("click", () => {
  rankWanted = shownOrder();
  rankMoved = null;
  rankError = "";
  renderVote();
  pumpRank();
});

// ---------------------------------------------------------------- results and decisions

function renderResults() {
  const ranking = results ? results.ranking : [];
  const wait = $("results-wait");
  wait.hidden = Boolean(results && ranking.length);
  wait.textContent = results ? t("no_votes_yet") : t("results_waiting");
  renderBars($("results-list"), ranking.map((r) => ({
    key: r.domain_id,
    label: r.title,
    value: r.score,
    meta: `${t("balanced_value", { score: num(r.balanced_score) })} · ${t("voters_value", { n: r.voters })}`,
  })));
}

/** A monitoring indicator: a plain string, or {name, baseline?, target?}. */
function indicatorText(item) {
  if (!item || typeof item !== "object") return String(item ?? "");
  const vars = { name: item.name || "", baseline: item.baseline ?? "", target: item.target ?? "" };
  const hasBase = vars.baseline !== "";
  const hasTarget = vars.target !== "";
  if (hasBase && hasTarget) return t("indicator_from_to", vars);
  if (hasBase) return t("indicator_baseline", vars);
  if (hasTarget) return t("indicator_target", vars);
  return vars.name;
}

function renderDecide() {
  // A newcomer to a closed workshop sees what it agreed (page data), not a join form.
  const newcomer = !joined;
  const unknown = newcomer && !page.priorities; // it closed after this page loaded
  const closed = newcomer || state.workshop.phase === "closed";
  $("closed-note").hidden = !closed;
  $("closed-note").textContent = !closed ? "" : !newcomer ? t("closed_thanks")
    : unknown ? t("closed_just_now") : t("closed_newcomer");
  $("closed-reload").hidden = !unknown;
  const priorities = (newcomer ? page.priorities : state.priorities) || [];
  $("decide-empty").hidden = priorities.length > 0 || unknown;
  $("decide-empty").textContent = t("no_priorities");
  syncList($("priorities"), priorities, (p) => p.domain_id,
    () =>
      h("li", { class: "card priority" },
        h("h3", { class: "title" }),
        h("p", { class: "rationale" }),
        h("p", { class: "ind-label small" }),
        h("ul", { class: "indicators" })),
    (li, p) => {
      li.querySelector(".title").textContent = `${t("priority_n", { rank: p.rank })}: ${p.title}`;
      li.querySelector(".rationale").textContent = p.rationale;
      const indicators = p.indicators || [];
      li.querySelector(".ind-label").textContent = indicators.length ? t("indicators") : "";
      li.querySelector(".ind-label").hidden = !indicators.length;
      li.querySelector(".indicators").replaceChildren(...indicators.map((x) => h("li", {}, indicatorText(x))));
    });
}

render();

// ---------------------------------------------------------------- personal invitations

/** A page opened from a personal invitation (`?invite=`) sends its token with every join: the
 * server takes the helix, name and organisation from the invitation, and the same invitation
 * always comes back as the same participant (a new phone, a lost token). */
function withInvite(payload) {
  return page.invite ? { ...payload, invite: page.invite } : payload;
}

/** The invitee's one button: join as invited (no helix to pick). */
async function joinInvited(event) {
  event.preventDefault();
  const button = event.currentTarget.querySelector("button[type=submit]");
  button.disabled = true;
  setStatus(statusEl, t("joining"), "pending");
  const ack = await join({});
  button.disabled = false;
  if (ack.ok) {
    setStatus(statusEl, t("joined"), "ok");
    $("main").focus();
  }
}

if ($("invite-form")) $("invite-form").addEventListener("submit", joinInvited);

// ---------------------------------------------------------------- the method: vision, SWOT, funders

// Kept apart from the code above: `render()` calls `renderVision()` in the vision phase and
// `renderMethodParts()` after every render, which adds a SWOT section (and, for funders, the
// yes / maybe / no buttons) to the domain cards the views above have drawn.
import { newClientId } from "./socket.js";

/** A helix's label in the phone's language (the workshop's helices, as the cards show them). */
function helixName(key) {
  const found = ((state && state.workshop.helices) || []).find((x) => x.key === key);
  return found ? labelOf(found) : helixLabel(key);
}

// ---- vision

// One statement at a time, as in Pol.is. The deck is the statements in the order they were
// written: the card in hand never moves, new ones join at the end, and the next card is the
// first one this phone has not reacted to. A reaction shows at once and goes out in the
// background (`react` sets, so a retry after a reconnect is harmless); a refusal says why and
// the statement comes back as unanswered.
let visionCurrent = null; // the statement on the card
let visionChanging = false; // that card was answered before, opened again from "Your reactions"
const reactionsPending = new Map(); // statement_id -> reaction sent, not acknowledged yet
const STATEMENT_MAX = 500;

const visionDeck = () => ((state && state.vision) || []).slice().sort((a, b) => a.statement_id - b.statement_id);

function myReaction(id) {
  if (reactionsPending.has(id)) return reactionsPending.get(id);
  return (me && me.reactions && me.reactions[String(id)]) || null;
}

function renderVision() {
  const deck = visionDeck();
  // The adopted statements head the screen, in the server's order (adopted first).
  const adopted = ((state && state.vision) || []).filter((s) => s.adopted);
  $("vision-adopted-box").hidden = !adopted.length;
  syncList($("vision-adopted"), adopted, (s) => s.statement_id,
    () => h("li", { class: "adopted-statement" }),
    (li, s) => { li.textContent = s.text; });

  const ids = new Set(deck.map((s) => s.statement_id));
  if (visionCurrent !== null && (!ids.has(visionCurrent) || (!visionChanging && myReaction(visionCurrent)))) {
    visionCurrent = null;
    visionChanging = false;
  }
  if (visionCurrent === null) {
    const next = deck.find((s) => !myReaction(s.statement_id));
    visionCurrent = next ? next.statement_id : null;
  }
  const card = deck.find((s) => s.statement_id === visionCurrent);
  const progress = $("vision-progress");
  progress.textContent = card ? t("statement_progress", { n: deck.indexOf(card) + 1, m: deck.length })
    : deck.length ? t("vision_done") : t("vision_none");
  const deckEl = $("vision-deck");
  deckEl.dataset.state = card ? (visionChanging ? "changing" : "open") : deck.length ? "done" : "empty";
  $("vision-card").hidden = !card;
  $("vision-buttons").hidden = !card;
  if (card && $("vision-text").textContent !== card.text) $("vision-text").textContent = card.text;
  $("vision-empty").hidden = Boolean(deck.length);
  const answered = deck.filter((s) => myReaction(s.statement_id));
  $("vision-review").hidden = Boolean(card) || !answered.length;
  for (const button of $("vision-buttons").querySelectorAll("button")) {
    button.setAttribute("aria-pressed", String(Boolean(card) && myReaction(card.statement_id) === button.dataset.reaction));
  }

  // "Your reactions": every statement answered, with a way back to its card.
  $("vision-mine").hidden = !answered.length;
  $("vision-mine-count").textContent = `(${answered.length})`;
  syncList($("vision-mine-list"), answered, (s) => s.statement_id,
    (s) =>
      h("li", { class: "vision-mine-item" },
        h("p", { class: "text" }),
        h("p", { class: "reaction small" }),
        h("button", { type: "button", class: "secondary change", onclick: () => changeReaction(s.statement_id) },
          t("change_reaction"))),
    (li, s) => {
      const reaction = myReaction(s.statement_id);
      li.dataset.reaction = reaction;
      li.querySelector(".text").textContent = s.text;
      li.querySelector(".reaction").textContent = t("your_reaction", { reaction: t(reaction) });
      li.querySelector(".change").setAttribute("aria-label", t("change_reaction_to", { text: s.text }));
    });
}

function changeReaction(id) {
  visionCurrent = id;
  visionChanging = true;
  renderVision();
  $("vision-deck").scrollIntoView({ block: "start" });
  const pressed = $("vision-buttons").querySelector('[aria-pressed="true"]');
  (pressed || $("vision-buttons").querySelector("button")).focus();
}

async function react(reaction) {
  const id = visionCurrent;
  if (id === null || !me) return;
  reactionsPending.set(id, reaction);
  visionCurrent = null; // the next unanswered statement takes the card
  visionChanging = false;
  renderVision();
  // The buttons stay where they were for the next card; when none is left, the heading says so.
  if ($("vision-buttons").hidden) progressFocus();
  const out = $("vision-status");
  setStatus(out, pendingText(), "pending");
  refreshPending();
  const ack = await send("react", { statement_id: id, reaction });
  if (reactionsPending.get(id) === reaction) reactionsPending.delete(id);
  if (ack.ok) {
    me.reactions = { ...(me.reactions || {}), [String(id)]: ack.reaction };
    setStatus(out, t("saved"), "ok");
  } else {
    setStatus(out, (ack.error && ack.error.message) || t("error"), "error");
  }
  if (state && state.workshop.phase === "vision") renderVision();
}

function progressFocus() {
  $("vision-progress").focus();
}

for (const button of document.querySelectorAll("#vision-buttons button")) {
  button.addEventListener("click", () => react(button.dataset.reaction));
}

$("vision-review").addEventListener("click", () => {
  const box = $("vision-mine");
  box.open = true;
  box.querySelector("summary").focus();
  box.scrollIntoView({ block: "start" });
});

function countStatement() {
  const left = STATEMENT_MAX - $("statement-text").value.length;
  $("statement-count").textContent = t("chars_left", { n: left, max: STATEMENT_MAX });
}
$("statement-text").addEventListener("input", countStatement);
countStatement();

$("statement-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = event.currentTarget;
  const field = $("statement-text");
  const out = $("statement-status");
  const text = field.value.trim();
  if (!text) {
    setStatus(out, t("statement_required"), "error");
    field.focus();
    return;
  }
  const button = form.querySelector("button[type=submit]");
  button.disabled = true;
  const ack = await act(out, "statement", { text, client_id: newClientId() }, t("statement_saved"));
  button.disabled = false;
  if (ack.ok) {
    field.value = "";
    countStatement();
  }
});

// The statements with their reactions, pushed (coalesced) after every change.
socket.on("vision", (v) => {
  if (!joined || !state || !v || !Array.isArray(v.statements)) return;
  state.vision = v.statements;
  if (state.workshop.phase === "vision") renderVision();
});

// ---- SWOT and funders on the domain cards

const QUADRANTS = ["strength", "weakness", "opportunity", "threat"];
const SIGNALS = ["yes", "maybe", "no"];
const SWOT_PHASES = ["propose", "discuss", "vote"];
const FUND_PHASES = ["discuss", "vote", "results", "decide"];
const SWOT_SHOWN = 3; // items per quadrant before "Show all"
const swotExpanded = new Set(); // `${domain_id}:${quadrant}` lists shown in full
// A new item comes as itself (`swot`); a `state` read a moment before it would not hold it yet,
// so items pushed in the last seconds are kept until a snapshot has them.
const swotRecent = new Map(); // item_id -> {item, at}
const SWOT_KEEP_MS = 5000;
const fundPending = new Map(); // domain_id -> signal sent, not acknowledged yet

function addSwotItem(s, item) {
  const d = ((s && s.domains) || []).find((x) => x.domain_id === item.domain_id);
  if (!d) return false;
  d.swot = d.swot || [];
  if (d.swot.some((x) => x.item_id === item.item_id)) return false;
  d.swot.push(item);
  return true;
}

function keepRecentSwot() {
  const now = Date.now();
  for (const [id, { item, at }] of swotRecent) {
    if (now - at > SWOT_KEEP_MS) swotRecent.delete(id);
    else addSwotItem(state, item);
  }
}

socket.on("swot", (item) => {
  if (!joined || !state || !item || !item.item_id) return;
  swotRecent.set(item.item_id, { item, at: Date.now() });
  if (addSwotItem(state, item)) render();
});

/** The domain id behind a card's key ("12", "dot-12", "rank-12"). */
const cardDomainId = (li) => Number(String(li.dataset.key || "").split("-").pop());

function renderMethodParts(shown) {
  const panel = $("funding-panel");
  if (!joined || !state) {
    panel.hidden = true;
    return;
  }
  keepRecentSwot();
  const phase = state.workshop.phase;
  const funder = Boolean(me && me.funder) && FUND_PHASES.includes(phase);
  const byId = new Map(approved().map((d) => [d.domain_id, d]));
  const places = [["propose", $("propose-domains")], ["discuss", $("discuss-domains")], ["vote", $("vote-list")]];
  for (const [where, list] of places) {
    if (!shown.includes(where)) continue;
    for (const li of list.children) {
      const d = byId.get(cardDomainId(li));
      if (!d) continue;
      let swot = li.querySelector(":scope > .swot");
      if (SWOT_PHASES.includes(phase)) {
        if (!swot) li.append((swot = swotBox(d, where)));
        fillSwot(swot, d);
      }
      if (swot) swot.hidden = !SWOT_PHASES.includes(phase);
      let fund = li.querySelector(":scope > .fund");
      if (funder && where !== "propose") {
        if (!fund) li.append((fund = fundBox(d, where)));
        fillFund(fund, d);
      }
      if (fund) fund.hidden = !(funder && where !== "propose");
    }
  }
  // Results and decide draw no domain cards: funders get a panel of their own.
  const inPanel = funder && (phase === "results" || phase === "decide");
  panel.hidden = !inPanel;
  if (inPanel) {
    syncList($("funding-domains"), [...byId.values()], (d) => d.domain_id,
      (d) => h("li", { class: "card fund-card" }, h("h3", { class: "title" }), fundBox(d, "panel")),
      (li, d) => {
        li.querySelector(".title").textContent = d.title;
        fillFund(li.querySelector(".fund"), d);
      });
  }
}

// ---- SWOT

function swotBox(d, where) {
  const id = d.domain_id;
  const quadrantId = `swot-quadrant-${where}-${id}`;
  const textId = `swot-text-${where}-${id}`;
  return h("details", { class: "swot" },
    h("summary", {},
      h("span", { class: "summary-text" },
        h("span", { class: "swot-label" }, t("swot_title")), " ",
        h("span", { class: "count muted" }),
        h("span", { class: "visually-hidden for-title" }))),
    h("div", { class: "swot-groups" }),
    h("p", { class: "swot-none muted small" }, t("swot_none")),
    h("form", { class: "swot-form stack", novalidate: true, onsubmit: (event) => sendSwot(event, id) },
      h("label", { for: quadrantId }, t("swot_quadrant")),
      h("select", { id: quadrantId, name: "quadrant" },
        ...QUADRANTS.map((q) => h("option", { value: q }, t(`swot_${q}`)))),
      h("label", { for: textId }, t("swot_text")),
      h("textarea", { id: textId, name: "text", rows: 2, maxlength: 300 }),
      h("button", { type: "submit", class: "secondary" }, t("swot_add")),
      h("p", { class: "form-status small", role: "status" })));
}

function fillSwot(box, d) {
  const items = d.swot || [];
  box.querySelector(".count").textContent = `(${items.length})`;
  box.querySelector(".for-title").textContent = ` — ${d.title}`;
  box.querySelector(".swot-none").hidden = items.length > 0;
  const groups = QUADRANTS.map((q) => ({ q, items: items.filter((i) => i.quadrant === q) }))
    .filter((g) => g.items.length);
  syncList(box.querySelector(".swot-groups"), groups, (g) => g.q,
    (g) =>
      h("div", { class: "swot-q", "data-quadrant": g.q },
        h("p", { class: "swot-q-h" }),
        h("ul", { class: "swot-items", "aria-label": t(`swot_${g.q}`) }),
        h("button", {
          type: "button", class: "link-button swot-more",
          onclick: () => {
            const key = `${d.domain_id}:${g.q}`;
            if (swotExpanded.has(key)) swotExpanded.delete(key);
            else swotExpanded.add(key);
            render();
          },
        })),
    (div, g) => {
      const key = `${d.domain_id}:${g.q}`;
      const full = swotExpanded.has(key) || g.items.length <= SWOT_SHOWN;
      div.querySelector(".swot-q-h").textContent = `${t(`swot_${g.q}`)} (${g.items.length})`;
      syncList(div.querySelector(".swot-items"), full ? g.items : g.items.slice(0, SWOT_SHOWN), (i) => i.item_id,
        (i) => h("li", {}, h("span", { class: "text" }, i.text), " ", h("span", { class: "who" }, `— ${helixName(i.helix)}`)));
      const more = div.querySelector(".swot-more");
      more.hidden = g.items.length <= SWOT_SHOWN;
      more.textContent = swotExpanded.has(key) ? t("swot_fewer") : t("swot_more", { n: g.items.length });
      more.setAttribute("aria-expanded", String(swotExpanded.has(key)));
    });
}

async function sendSwot(event, domainId) {
  event.preventDefault();
  const form = event.currentTarget;
  const out = form.querySelector(".form-status");
  const field = form.elements.text;
  const text = field.value.trim();
  if (!text) {
    setStatus(out, t("swot_required"), "error");
    field.focus();
    return;
  }
  const quadrant = form.elements.quadrant.value;
  const button = form.querySelector("button[type=submit]");
  button.disabled = true;
  const ack = await act(out, "swot", { domain_id: domainId, quadrant, text, client_id: newClientId() }, t("swot_saved"));
  button.disabled = false;
  if (ack.ok) {
    field.value = "";
    const item = { item_id: ack.item_id, domain_id: domainId, quadrant, text: text.split(/\s+/).join(" "), helix: me && me.helix };
    swotRecent.set(item.item_id, { item, at: Date.now() });
    if (addSwotItem(state, item)) render();
  }
}

// ---- funders' signal

function fundBox(d, where) {
  const id = d.domain_id;
  const headId = `fund-h-${where}-${id}`;
  const inputId = `fund-instrument-${where}-${id}`;
  const box = h("div", { class: "fund", role: "group", "aria-labelledby": headId },
    h("p", { class: "fund-h", id: headId }, t("funding_title"), h("span", { class: "visually-hidden for-title" })),
    h("div", { class: "fund-buttons" },
      ...SIGNALS.map((s) =>
        h("button", { type: "button", class: "fund-signal", "data-signal": s, "aria-pressed": "false", onclick: () => sendFund(box, id, s) },
          t(`funding_${s}`)))),
    // The instrument matters for a yes or a maybe: the field shows once one is chosen.
    h("div", { class: "fund-instrument-box" },
      h("label", { for: inputId, class: "small" }, t("instrument_optional")),
      h("div", { class: "fund-instrument" },
        h("input", { id: inputId, name: "instrument", maxlength: 200, autocomplete: "off", oninput: (e) => { e.currentTarget.dataset.dirty = "yes"; } }),
        h("button", { type: "button", class: "secondary", onclick: () => saveInstrument(box, id) }, t("instrument_save")))),
    h("p", { class: "fund-mine small" }),
    h("p", { class: "form-status small", role: "status" }));
  return box;
}

const myFunding = (id) => (me && me.funding && me.funding[String(id)]) || null;

function fillFund(box, d) {
  const saved = myFunding(d.domain_id);
  const shown = fundPending.has(d.domain_id) ? fundPending.get(d.domain_id) : saved && saved.signal;
  box.querySelector(".for-title").textContent = ` — ${d.title}`;
  box.dataset.signal = shown || "";
  for (const button of box.querySelectorAll(".fund-signal")) {
    button.setAttribute("aria-pressed", String(button.dataset.signal === shown));
  }
  box.querySelector(".fund-instrument-box").hidden = !(shown === "yes" || shown === "maybe");
  const input = box.querySelector("input");
  if (!input.dataset.dirty && document.activeElement !== input) input.value = (saved && saved.instrument) || "";
  const mine = box.querySelector(".fund-mine");
  mine.textContent = !saved ? t("funding_mine_none")
    : saved.instrument ? t("funding_mine_instrument", { signal: t(`funding_${saved.signal}`), instrument: saved.instrument })
      : t("funding_mine", { signal: t(`funding_${saved.signal}`) });
}

async function sendFund(box, domainId, signal) {
  const input = box.querySelector("input");
  const instrument = input.value.trim();
  fundPending.set(domainId, signal);
  render();
  const ack = await act(box.querySelector(".form-status"), "fund", { domain_id: domainId, signal, instrument });
  if (fundPending.get(domainId) === signal) fundPending.delete(domainId);
  if (ack.ok) {
    me.funding = { ...(me.funding || {}), [String(ack.domain_id)]: { signal: ack.signal, instrument: ack.instrument } };
    if (input.value.trim() === instrument) delete input.dataset.dirty;
  }
  render();
}

function saveInstrument(box, domainId) {
  const saved = myFunding(domainId);
  const signal = fundPending.get(domainId) || (saved && saved.signal);
  if (signal) sendFund(box, domainId, signal); // the field shows only once a signal is chosen
}
