// The one shared module: page data, translated strings, the socket, acks as Promises,
// the connection banner and a few DOM helpers. No framework, no build step.
import { io } from "../vendor/socket.io.esm.min.js";

const dataBlock = document.getElementById("page-data");
export const page = dataBlock ? JSON.parse(dataBlock.textContent) : {};
const strings = page.strings || {};

/** A translated string from page.strings with {placeholders} filled in. */
export function t(key, vars) {
  let text = strings[key] ?? key;
  if (vars) text = text.replace(/\{(\w+)\}/g, (m, k) => (k in vars ? String(vars[k]) : m));
  return text;
}

const numbers = new Intl.NumberFormat(page.language || "en", { maximumFractionDigits: 2 });
export const num = (x) => numbers.format(Number(x) || 0);

export const socket = io({ reconnectionDelayMax: 5000 });
window.edpSocket = socket;
window.edpReady = false;

// "Ready" = connected and the page's connect hook (join / watch / facilitate) has answered.
// Actions wait for it, so nothing is sent on a fresh connection before the rejoin.
let connectHook = null;
let markReady;
let ready = new Promise((resolve) => { markReady = resolve; });

/** The page's (re)connection step; runs on every connect, before any queued action. */
export function onConnect(hook) {
  connectHook = hook;
}

socket.on("connect", async () => {
  try {
    if (connectHook) await connectHook();
  } finally {
    window.edpReady = true;
    markReady();
  }
});
socket.on("disconnect", () => {
  window.edpReady = false;
  ready = new Promise((resolve) => { markReady = resolve; });
});

const timeoutAck = () => ({ ok: false, error: { code: "timeout", message: t("timeout") } });
const offlineAck = () => ({ ok: false, error: { code: "offline", message: t("offline") } });
const badAck = () => ({ ok: false, error: { code: "bad_ack", message: t("error") } });

// ---------------------------------------------------------------- idempotent actions

// Participant actions carry a `client_id`; the server answers a repeated id with the original
// ack and changes nothing, so an action whose ack was lost can be sent again safely.
const ACTIONS = new Set(["join", "propose", "comment", "vote", "score", "rank"]);

/** 128 random bits as hex (crypto.randomUUID needs HTTPS; getRandomValues does not). */
export function newClientId() {
  const bytes = new Uint8Array(16);
  (window.crypto || window.msCrypto).getRandomValues(bytes);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

// A join keeps one id per workshop on this device, even across reloads: a first join whose ack
// was lost, sent again, then finds the same participant instead of creating a second one.
const JOIN_KEY = `edp.join.${page.code || ""}`;
function joinClientId() {
  try {
    let id = localStorage.getItem(JOIN_KEY);
    if (!id) localStorage.setItem(JOIN_KEY, (id = newClientId()));
    return id;
  } catch (e) {
    joinClientId.memory = joinClientId.memory || newClientId();
    return joinClientId.memory;
  }
}

function withClientId(event, payload) {
  if (!ACTIONS.has(event) || !payload || typeof payload !== "object" || Array.isArray(payload)) return payload;
  if (payload.client_id) return payload;
  return { ...payload, client_id: event === "join" ? joinClientId() : newClientId() };
}

// Packets written while offline would be sent on reconnect before the page has rejoined (and
// be refused with not_joined); `send` sends them again once ready, so drop the stale copies.
socket.on("disconnect", () => {
  if (Array.isArray(socket.sendBuffer)) socket.sendBuffer.length = 0;
});

/** One emit with an ack: the ack, or a timeout/offline error (never rejects). */
function emitOnce(event, payload, ms) {
  return new Promise((resolve) => {
    let done = false;
    let timer = null;
    const finish = (ack) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.off("disconnect", dropped);
      resolve(ack);
    };
    const dropped = () => finish(offlineAck());
    timer = setTimeout(() => finish(timeoutAck()), ms);
    socket.on("disconnect", dropped);
    socket.emit(event, payload, (ack) => finish(ack && typeof ack === "object" ? ack : badAck()));
  });
}

/** Emit now (the connect hook's own events); resolves to {ok: true, ...} or {ok: false, error}.
 * Participant actions get a client_id. */
export function emit(event, payload, ms = 10000) {
  return emitOnce(event, withClientId(event, payload), ms);
}

function whenReady(ms) {
  if (window.edpReady) return Promise.resolve(true);
  let timer;
  return Promise.race([
    ready.then(() => true),
    new Promise((resolve) => { timer = setTimeout(() => resolve(false), ms); }),
  ]).finally(() => clearTimeout(timer));
}

const RETRY = new Set(["timeout", "offline"]);

/**
 * An action: waits until connected and rejoined, emits with an ack, and while no ack comes
 * (lost connection, sleeping phone, timeout) sends the same payload again after the next
 * rejoin, for up to `patience` ms. The client_id stays the same, so the server never counts a
 * retry twice.
 */
export async function send(event, payload, ms = 10000, patience = 120000) {
  const body = withClientId(event, payload);
  const giveUp = Date.now() + patience;
  let ack = timeoutAck();
  while (Date.now() < giveUp) {
    if (!(await whenReady(Math.max(0, giveUp - Date.now())))) break;
    ack = await emitOnce(event, body, ms);
    if (ack.ok || !ack.error || !RETRY.has(ack.error.code)) break;
  }
  return ack;
}

/** Run an action and show pending → saved (or the server's message) in a status element. */
export async function act(statusEl, event, payload, okText) {
  setStatus(statusEl, t("saving"), "pending");
  const ack = await send(event, payload);
  if (ack.ok) setStatus(statusEl, okText || t("saved"), "ok");
  else setStatus(statusEl, (ack.error && ack.error.message) || t("error"), "error");
  return ack;
}

const toastTimers = new WeakMap();

/** Show feedback in a status element; a toast's success message clears itself after a while. */
export function setStatus(el, text, kind) {
  if (!el) return;
  el.textContent = text;
  el.dataset.kind = kind || "";
  clearTimeout(toastTimers.get(el));
  if (kind === "ok" && el.classList.contains("toast")) {
    toastTimers.set(el, setTimeout(() => setStatus(el, "", ""), 3500));
  }
}

// Connection banner: a live region that stays in the page and is empty while connected.
const banner = document.getElementById("connection");
function showBanner(text) {
  if (banner) banner.textContent = text;
  document.body.dataset.connected = text ? "no" : "yes";
}
showBanner(t("connecting"));
// After a few failed attempts in a row, say why instead of "reconnecting" forever: this
// address is refused for live updates (page.origin_warning, or the server answered 400/403),
// or the server cannot be reached from this device. (A refused origin shows as a connection
// that opens and drops at once, so drops count as well as connect errors.)
let failedConnects = 0;
function connectionTrouble(err) {
  failedConnects += 1;
  const status = err && (err.description && err.description.description !== undefined
    ? err.description.description : err.description);
  if (page.origin_warning) showBanner(t("origin_refused"));
  else if (failedConnects < 3) showBanner(t("offline"));
  else if (status === 400 || status === 403) showBanner(t("connect_refused", { host: location.host }));
  else showBanner(t("connect_unreachable", { host: location.host }));
}
socket.on("connect", () => { failedConnects = 0; showBanner(""); });
socket.on("disconnect", (reason, details) => connectionTrouble(details));
socket.on("connect_error", (err) => (socket.active ? connectionTrouble(err) : showBanner(t("error"))));

/** Create an element. Children are nodes or strings (added as text, never parsed as HTML). */
export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "class") el.className = value;
    else if (key === "text") el.textContent = value;
    else if (key.startsWith("on") && typeof value === "function") el.addEventListener(key.slice(2), value);
    else el.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child !== null && child !== undefined && child !== false) el.append(child);
  }
  return el;
}

/**
 * Keep a container's children in step with a list, reusing each item's element by key so
 * focus and half-typed input survive the frequent `state` broadcasts.
 */
export function syncList(container, items, keyOf, create, update) {
  const existing = new Map();
  for (const child of Array.from(container.children)) existing.set(child.dataset.key, child);
  const keep = new Set();
  let previous = null;
  for (const item of items) {
    const key = String(keyOf(item));
    let el = existing.get(key);
    if (!el) {
      el = create(item);
      el.dataset.key = key;
    }
    if (update) update(el, item);
    keep.add(key);
    const wanted = previous ? previous.nextElementSibling : container.firstElementChild;
    if (el !== wanted) container.insertBefore(el, wanted);
    previous = el;
  }
  for (const [key, el] of existing) if (!keep.has(key)) el.remove();
}

/** Horizontal bars: [{key, label, value, text?, meta?}] into a <ul>/<ol>, longest bar = max. */
export function renderBars(container, rows) {
  const max = Math.max(1e-9, ...rows.map((r) => Number(r.value) || 0));
  syncList(
    container,
    rows,
    (r) => r.key,
    () =>
      h("li", { class: "bar-row" },
        h("span", { class: "bar-label" }),
        h("span", { class: "bar-value" }),
        h("span", { class: "bar-track", "aria-hidden": "true" }, h("span", { class: "bar-fill" })),
        h("span", { class: "bar-meta" })),
    (li, r) => {
      li.querySelector(".bar-label").textContent = r.label;
      li.querySelector(".bar-value").textContent = r.text ?? num(r.value);
      li.querySelector(".bar-fill").style.width = `${Math.max(0, (100 * (Number(r.value) || 0)) / max)}%`;
      const meta = li.querySelector(".bar-meta");
      meta.textContent = r.meta || "";
      meta.hidden = !r.meta;
    },
  );
}

export const helixLabel = (key) => {
  const found = (page.helices || []).find((x) => x.key === key);
  if (!found && key === "_other") return t("other_groups"); // small helices pooled (privacy)
  return found ? found.label : key;
};

/** Counts by helix in the workshop's helix order. */
export function countRows(counts) {
  return (page.helices || []).map((x) => ({ key: x.key, label: x.label, value: (counts || {})[x.key] || 0 }));
}

/**
 * A `comment` broadcast into the page's copy of the state (the room gets each new comment as
 * itself, not a new full state): adds it once and counts it on its domain. True if it was new.
 */
export function addComment(state, c) {
  if (!state || !c) return false;
  state.comments = state.comments || [];
  if (state.comments.some((x) => x.comment_id === c.comment_id)) return false;
  state.comments.push(c);
  const d = (state.domains || []).find((x) => x.domain_id === c.domain_id);
  if (d) d.comments = (d.comments || 0) + 1;
  return true;
}

/**
 * The room's `state` broadcasts leave the comments' text out (`comments_upto` says up to which
 * comment id the snapshot counts), and a snapshot may have been read just before a comment that
 * already arrived on its own: keep this page's comments on the domains still shown, and count
 * those newer than the snapshot, so nothing blinks out.
 */
export function keepNewerComments(previous, next) {
  if (!next) return next;
  const hidden = new Set(next.hidden_comments || []);
  const mine = ((previous && previous.comments) || []).filter((c) => !hidden.has(c.comment_id) || c.hidden !== undefined);
  const shown = new Map((next.domains || []).map((d) => [d.domain_id, d]));
  const sent = Array.isArray(next.comments);
  const upto = sent ? next.comments.reduce((m, c) => Math.max(m, c.comment_id), next.comments_upto || 0)
    : next.comments_upto || 0;
  if (!sent) next.comments = mine.filter((c) => c.comment_id <= upto && shown.has(c.domain_id));
  else {
    // A snapshot carries only the newest comments: keep the older ones this page loaded.
    const have = new Set(next.comments.map((c) => c.comment_id));
    for (const c of mine) {
      if (c.comment_id <= upto && !have.has(c.comment_id) && shown.has(c.domain_id)) next.comments.push(c);
    }
  }
  if (previous && previous.older) next.older = previous.older;
  // The facilitator's copies say whether each is hidden: follow the snapshot's list.
  for (const c of next.comments) if (c.hidden !== undefined) c.hidden = hidden.has(c.comment_id);
  for (const c of mine) {
    if (c.comment_id > upto && shown.has(c.domain_id)) {
      next.comments.push(c);
      const d = shown.get(c.domain_id);
      d.comments = (d.comments || 0) + 1;
    }
  }
  return next;
}

/**
 * One page of a domain's comments (`comments` event: the snapshots carry only the newest few)
 * merged into the page's state; `older` asks for the page before the oldest one loaded.
 * Resolves to the ack ({ok, comments, more} or an error); `state.older[domain_id]` says whether
 * the server has earlier ones.
 */
export async function loadComments(state, domainId, older = false, extra = {}) {
  if (!state) return { ok: false };
  state.comments = state.comments || [];
  const payload = { domain_id: domainId, ...extra };
  if (older) {
    const ids = state.comments.filter((c) => c.domain_id === domainId).map((c) => c.comment_id);
    if (ids.length) payload.before = Math.min(...ids);
  }
  const ack = await emit("comments", payload);
  if (!ack.ok) return ack;
  const have = new Set(state.comments.map((c) => c.comment_id));
  for (const c of ack.comments) if (!have.has(c.comment_id)) state.comments.push(c);
  state.comments.sort((a, b) => a.comment_id - b.comment_id);
  state.older = state.older || {};
  if (older || !(domainId in state.older)) state.older[domainId] = ack.more;
  return ack;
}

/**
 * A `comment_hidden` broadcast (the facilitator hid a comment): drop the page's copy and
 * uncount it on its domain. True if the page had it.
 */
export function dropComment(state, c) {
  if (!state || !c || !state.comments) return false;
  const before = state.comments.length;
  state.comments = state.comments.filter((x) => x.comment_id !== c.comment_id);
  if (state.comments.length === before) return false;
  const d = (state.domains || []).find((x) => x.domain_id === c.domain_id);
  if (d && d.comments) d.comments -= 1;
  return true;
}
