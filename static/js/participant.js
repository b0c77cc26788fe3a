// The participant's phone: join, then one view per phase, driven by `state` broadcasts.
import {
  act as sendAct, addComment, countRows, keepNewerComments, emit, h, helixLabel, num, onConnect, page, renderBars, send, setStatus, socket, syncList, t,
} from "./socket.js";
import { countdown } from "./timer.js";

const $ = (id) => document.getElementById(id);
const TOKEN_KEY = `edp.token.${page.code}`;

let state = null; // the latest public snapshot
let me = null; // this participant's ballot (join ack, then kept up to date from acks)
let results = null;
let joined = false;
let token = loadToken();
let rejoining = Boolean(token); // until the first rejoin answers, show nothing but the banner

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
  $("sticky-bar").hidden = $("timer").hidden && $("budget").hidden && $("progress").hidden;
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
  // `emit`, not `send`: joining is what makes the page ready (see onConnect below).
  const ack = await emit("join", { code: page.code, language: page.language, ...payload });
  if (ack.ok) {
    saveToken(ack.token);
    joined = true;
    me = ack.state.me;
    applyState(ack.state);
    return ack;
  }
  if (payload.token && ["bad_helix", "unknown_workshop", "wrong_phase"].includes(ack.error.code)) {
    // The stored identity is unknown here (e.g. another database): join afresh.
    saveToken(null);
    joined = false;
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
// Our own ballot changed on the server (points returned from a domain the facilitator hid).
socket.on("me", (m) => {
  if (!joined) return;
  me = m;
  render();
});

function applyState(s) {
  state = keepNewerComments(state, s);
  results = s.results || null;
  if (s.me) me = s.me;
  timer.update(s.workshop);
  render();
}

// ---------------------------------------------------------------- rendering

const VIEWS = ["join", "lobby", "propose", "discuss", "vote", "results", "decide"];

function visibleViews() {
  if (rejoining) return [];
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
  document.body.dataset.phase = joined && state ? state.workshop.phase : "join";
  $("budget").hidden = !(shown.includes("vote") && state && state.workshop.method === "dot");
  $("progress").hidden = !(shown.includes("vote") && state && state.workshop.method === "score");
  updateStickyBar();
  if (!joined || !state) {
    $("phase-label").textContent = rejoining ? t("connecting") : "";
    $("me-label").hidden = true;
    return;
  }
  $("phase-label").textContent = t("phase_now", { phase: phaseName(state.workshop.phase) });
  const meLabel = $("me-label");
  meLabel.hidden = !me;
  if (me) meLabel.textContent = t("joined_as", { helix: helixLabel(me.helix) }) + (me.name ? ` · ${me.name}` : "");
  renderLobby();
  if (shown.includes("propose")) renderPropose();
  if (shown.includes("discuss")) renderDiscuss();
  if (shown.includes("vote")) renderVote();
  if (shown.includes("results")) renderResults();
  if (shown.includes("decide")) renderDecide();
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
  const sdgs = el.querySelector(".sdg-list");
  sdgs.textContent = d.sdgs && d.sdgs.length ? t("sdgs", { list: d.sdgs.join(", ") }) : "";
  sdgs.hidden = !(d.sdgs && d.sdgs.length);
  el.querySelector(".badges").replaceChildren(...badges(d));
}

const domainBody = () => [
  h("p", { class: "badges" }),
  h("p", { class: "desc" }),
  h("p", { class: "why" }),
  h("p", { class: "sdg-list muted" }),
];

function showEmpty(id, empty) {
  const el = $(id);
  el.hidden = !empty;
  el.textContent = empty ? t("no_domains") : "";
}

function renderPropose() {
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
  const ack = await act(out, "propose", {
    title,
    description: form.elements.description.value.trim(),
    rationale: form.elements.rationale.value.trim(),
    sdgs,
  }, t("proposal_saved"));
  button.disabled = false;
  if (ack.ok) {
    if (me) me.proposed = [...(me.proposed || []), ack.domain_id];
    form.reset();
    render();
  }
});

// Discuss: domains with their comments, and one comment form.
function renderDiscuss() {
  const domains = approved();
  showEmpty("discuss-empty", !domains.length);
  const byDomain = new Map();
  for (const c of state.comments || []) {
    if (!byDomain.has(c.domain_id)) byDomain.set(c.domain_id, []);
    byDomain.get(c.domain_id).push(c);
  }
  syncList($("discuss-domains"), domains, (d) => d.domain_id,
    (d) =>
      h("li", { class: "card" },
        h("details", {},
          h("summary", {}, h("span", { class: "summary-text" },
            h("span", { class: "title" }), " ", h("span", { class: "count muted" }))),
          ...domainBody(),
          h("ul", { class: "comments" }),
          h("p", { class: "no-comments muted" }, t("no_comments")),
          h("button", { type: "button", class: "secondary", onclick: () => commentOn(d.domain_id) }, t("comment_on")))),
    (li, d) => {
      fillDomainSummary(li, d);
      const comments = byDomain.get(d.domain_id) || [];
      li.querySelector(".count").textContent = `(${t("comments_count", { n: comments.length })})`;
      li.querySelector(".no-comments").hidden = comments.length > 0;
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
let rankOrder = null;
let rankDirty = false;

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
  $("rank-actions").hidden = ws.method !== "rank" || !domains.length;
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
    const ack = await send("vote", { domain_id: id, points: want });
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
            h("legend", {}, c.label, h("span", { class: "visually-hidden" }, ` — ${d.title}`)),
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
          if (li.dataset.pending !== c.key) input.checked = Number(input.value) === value;
        }
      }
    });
}

async function sendScore(domainId, criterion, value) {
  const li = $("vote-list").querySelector(`[data-key="score-${domainId}"]`);
  const rowOut = li && li.querySelector(".row-status");
  if (li) li.dataset.pending = criterion;
  setStatus(rowOut, pendingText(), "pending");
  const ack = await act($("vote-status"), "score", { domain_id: domainId, criterion, value });
  if (li) delete li.dataset.pending;
  if (ack.ok) {
    me.scores = me.scores || {};
    me.scores[String(domainId)] = { ...(me.scores[String(domainId)] || {}), [criterion]: value };
    setStatus(rowOut, t("saved"), "ok");
  } else {
    setStatus(rowOut, ack.error.message, "error");
  }
  renderVote();
}

function renderRank(list, domains) {
  // `domains` comes shuffled for this participant: a saved ranking keeps its order, and only
  // domains it does not hold yet (all of them before the first save) follow in shuffled order.
  const ids = domains.map((d) => d.domain_id);
  if (!rankOrder) rankOrder = (me && me.ranking ? me.ranking : []).filter((id) => ids.includes(id));
  rankOrder = rankOrder.filter((id) => ids.includes(id));
  for (const id of ids) if (!rankOrder.includes(id)) rankOrder.push(id);
  const byId = new Map(domains.map((d) => [d.domain_id, d]));
  const ordered = rankOrder.map((id) => byId.get(id));
  syncList(list, ordered, (d) => `rank-${d.domain_id}`,
    (d) =>
      h("li", { class: "card rank-row" },
        h("span", { class: "position", "aria-hidden": "true" }),
        h("h3", { class: "title" }),
        h("div", { class: "movers" },
          h("button", { type: "button", class: "step up", onclick: () => move(d.domain_id, -1) }, "↑"),
          h("button", { type: "button", class: "step down", onclick: () => move(d.domain_id, 1) }, "↓"))),
    (li, d) => {
      const index = rankOrder.indexOf(d.domain_id);
      li.querySelector(".position").textContent = String(index + 1);
      li.querySelector(".title").textContent = d.title;
      const up = li.querySelector(".up");
      const down = li.querySelector(".down");
      up.setAttribute("aria-label", t("move_up", { title: d.title }));
      down.setAttribute("aria-label", t("move_down", { title: d.title }));
      up.disabled = index === 0;
      down.disabled = index === rankOrder.length - 1;
    });
  if (rankDirty) setStatus($("vote-status"), t("ranking_unsaved"), "pending");
}

function move(id, delta) {
  const from = rankOrder.indexOf(id);
  const to = from + delta;
  if (from < 0 || to < 0 || to >= rankOrder.length) return;
  rankOrder.splice(from, 1);
  rankOrder.splice(to, 0, id);
  rankDirty = true;
  renderVote();
  // Keep the keyboard on the moved item (the same button, or the other one at the edges).
  const li = $("vote-list").querySelector(`[data-key="rank-${id}"]`);
  const button = li.querySelector(delta < 0 ? ".up" : ".down");
  (button.disabled ? li.querySelector(delta < 0 ? ".down" : ".up") : button).focus();
}

$("rank-save").addEventListener("click", async () => {
  const order = rankOrder ? rankOrder.slice() : [];
  const ack = await act($("vote-status"), "rank", { order }, t("ranking_saved"));
  if (ack.ok) {
    me.ranking = order;
    rankDirty = false;
  }
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
  const closed = state.workshop.phase === "closed";
  $("closed-note").hidden = !closed;
  $("closed-note").textContent = closed ? t("closed_thanks") : "";
  const priorities = state.priorities || [];
  $("decide-empty").hidden = priorities.length > 0;
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
