// The facilitator's console: phases, method, reveal, moderation, live counts and results, decisions.
import { SIZES, consensusChart, pct, rankingChart, setupCharts } from "./charts.js";
import { act, addComment, countRows, keepNewerComments, emit, h, helixLabel, num, onConnect, page, renderBars, setStatus, socket, syncList, t } from "./socket.js";
import { countdown } from "./timer.js";

const $ = (id) => document.getElementById(id);
setupCharts(SIZES.console);
const WID = page.workshop_id;
const LOCKED = ["vote", "results", "decide", "closed"]; // the method cannot change from the vote on
const BEFORE_VOTE = ["lobby", "propose", "discuss"]; // when an under-represented helix can still be brought in

let state = null;
let results = null;
const statusEl = $("console-status");

/** A facilitator event on this workshop with feedback in the status line. */
const run = (event, payload, okText) => act(statusEl, event, { workshop_id: WID, ...payload }, okText);

onConnect(async () => {
  // On every (re)connection: subscribe to the facilitator's broadcasts and take a fresh snapshot.
  const ack = await emit("facilitate", { workshop_id: WID });
  if (ack.ok) applyState(ack.state);
  else setStatus(statusEl, ack.error.message, "error");
});
socket.on("state", applyState);
socket.on("comment", (c) => {
  if (addComment(state, c)) renderDomains();
});
socket.on("counts", (c) => {
  if (!state) return;
  state.counts = c.counts;
  state.total = c.total;
  renderCounts();
});
socket.on("results", (r) => {
  results = r;
  renderResults();
  renderCounts();
  renderTradeoff();
});

function applyState(s) {
  state = keepNewerComments(state, s);
  if (s.results) results = s.results;
  timer.update(s.workshop);
  render();
}

// ---------------------------------------------------------------- controls

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
  return run("phase", seconds === undefined ? { phase } : { phase, seconds });
}

const phaseButtons = $("phase-buttons");
for (const phase of page.phases) {
  phaseButtons.append(
    h("button", {
      type: "button", class: "phase-button", "data-phase": phase, "aria-pressed": "false",
      onclick: () => setPhase(phase),
    }, t(`phase_${phase}`)),
  );
}

$("timer-start").addEventListener("click", () => {
  const seconds = timerSeconds();
  if (!state) return;
  if (!seconds) return badMinutes();
  run("phase", { phase: state.workshop.phase, seconds }, t("timer_started"));
});

$("timer-stop").addEventListener("click", async () => {
  if (!state) return;
  const ack = await run("phase", { phase: state.workshop.phase, seconds: 0 }, t("timer_stopped"));
  if (ack.ok) $("timer-start").focus(); // the stop button hides itself
});

$("method-form").addEventListener("submit", (event) => {
  event.preventDefault();
  run("configure", { method: $("method").value });
});

$("reveal").addEventListener("click", () => {
  if (state) run("reveal", { shown: !state.workshop.results_shown });
});

// ---------------------------------------------------------------- rendering

function render() {
  if (!state) return;
  const ws = state.workshop;
  document.body.dataset.phase = ws.phase;
  $("phase-now").textContent = t("phase_now", { phase: t(`phase_${ws.phase}`) });
  $("method-now").textContent = t("method_now", { method: t(`method_${ws.method}`) });
  for (const button of phaseButtons.children) {
    button.setAttribute("aria-pressed", String(button.dataset.phase === ws.phase));
  }
  $("timer-stop").hidden = !ws.phase_ends_at;
  const locked = LOCKED.includes(ws.phase);
  const select = $("method");
  if (document.activeElement !== select) select.value = ws.method;
  select.disabled = locked;
  $("method-apply").disabled = locked;
  $("method-note").textContent = locked ? t("method_locked") : "";
  $("reveal").textContent = ws.results_shown ? t("reveal_hide") : t("reveal_show");
  $("reveal").setAttribute("aria-pressed", String(ws.results_shown));
  $("reveal-note").textContent = ws.results_shown ? t("results_shown") : t("results_hidden");
  renderCounts();
  renderResults();
  renderDomains();
  renderDecide();
  renderTradeoff();
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
  $("total").textContent = `(${t("participants_total", { n: state.total })})`;
  const note = $("participation-warning");
  const before = BEFORE_VOTE.includes(state.workshop.phase);
  note.hidden = !under.length;
  note.textContent = under.length
    ? t(before ? "under_represented_summary" : "under_represented_voting", { list: helixList(under.map((w) => w.helix)) })
    : "";
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
  while (head.children.length > 6) head.lastElementChild.remove();
  for (const x of active) head.append(h("th", { scope: "col", class: "num" }, x.label));
  const body = $("results-body");
  body.replaceChildren(...ranking.map((r, i) =>
    h("tr", {},
      h("td", {}, String(i + 1)),
      h("th", { scope: "row" }, h("span", { class: "title" }, r.title), ...warningBadges(r.domain_id)),
      h("td", { class: "num" }, num(r.score)),
      h("td", { class: "num" }, num(r.balanced_score)),
      h("td", { class: "num" }, r.voters ? pct(r.consensus) : "–"),
      h("td", { class: "num" }, String(r.voters)),
      ...active.map((x) => h("td", { class: "num" }, num((r.by_helix || {})[x.key] || 0))))));
  renderWarnings(ranking);
  if (any && window.Chart) {
    rankingChart($("chart"), results, SIZES.console);
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
      h("td", { class: "num" }, voted ? pct(r.consensus) : "–"),
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

// The moderation queue first (waiting for approval), then the ballot, then what left it.
const STATUS_ORDER = { pending: 0, approved: 1, hidden: 2, merged: 3 };

/** domain id -> titles of every domain merged into it, directly or through earlier merges. */
function lineage(domains) {
  const byId = new Map(domains.map((d) => [d.domain_id, d]));
  const includes = new Map();
  for (const d of domains) {
    if (d.status !== "merged") continue;
    const seen = new Set([d.domain_id]);
    let into = d.merged_into;
    while (into && !seen.has(into) && byId.has(into)) {
      seen.add(into);
      if (!includes.has(into)) includes.set(into, []);
      includes.get(into).push(d.title);
      const next = byId.get(into);
      into = next.status === "merged" ? next.merged_into : null;
    }
  }
  return includes;
}

/** A moderation action; afterwards the keyboard stays in the row (the clicked button may hide). */
async function moderate(tr, payload) {
  const ack = await run("moderate", payload);
  if (!ack.ok || !tr.isConnected) return;
  const target = ["approve", "hide", "merge-into"].map((c) => tr.querySelector(`.${c}`))
    .find((el) => el && !el.hidden && !el.closest("[hidden]"));
  if (target && !tr.contains(document.activeElement)) target.focus();
}

function renderDomains() {
  const domains = state.domains.slice()
    .sort((a, b) => (STATUS_ORDER[a.status] ?? 9) - (STATUS_ORDER[b.status] ?? 9) || a.domain_id - b.domain_id);
  const approved = domains.filter((d) => d.status === "approved");
  const titles = new Map(domains.map((d) => [d.domain_id, d.title]));
  const includes = lineage(domains);
  const waiting = domains.filter((d) => d.status === "pending").length;
  const queue = $("queue-note");
  queue.hidden = !waiting;
  queue.textContent = waiting ? t("queue_waiting", { n: waiting }) : "";
  syncList($("domains-body"), domains, (d) => d.domain_id,
    (d) => {
      const id = d.domain_id;
      let tr;
      tr = h("tr", {},
        h("th", { scope: "row" },
          h("span", { class: "title" }), h("span", { class: "desc small muted" }),
          h("span", { class: "lineage small" })),
        h("td", { class: "status-cell" }),
        h("td", { class: "num comments" }),
        h("td", {}, h("div", { class: "actions" },
          h("button", { type: "button", class: "small-button approve", onclick: () => moderate(tr, { domain_id: id, action: "approve" }) }, t("approve")),
          h("button", { type: "button", class: "small-button hide", onclick: () => moderate(tr, { domain_id: id, action: "hide" }) }, t("hide")),
          h("span", { class: "merge" },
            h("label", { class: "visually-hidden", for: `merge-${id}` }),
            h("select", { id: `merge-${id}`, class: "merge-into" }),
            h("button", {
              type: "button", class: "small-button merge-button", onclick: () => {
                const into = Number(tr.querySelector(".merge-into").value);
                if (!into) {
                  setStatus(statusEl, t("choose_domain"), "error");
                  tr.querySelector(".merge-into").focus();
                  return;
                }
                moderate(tr, { domain_id: id, action: "merge", into });
              },
            }, t("merge"))))));
      return tr;
    },
    (tr, d) => {
      tr.dataset.status = d.status;
      tr.querySelector(".title").textContent = d.title;
      const desc = tr.querySelector(".desc");
      desc.textContent = d.seed ? ` · ${t("seed_domain")}` : "";
      const statusText = d.status === "merged" && d.merged_into
        ? t("merged_into", { title: titles.get(d.merged_into) || "?" })
        : t(`status_${d.status}`);
      tr.querySelector(".status-cell").textContent = statusText;
      const merged = includes.get(d.domain_id) || [];
      const lineageEl = tr.querySelector(".lineage");
      lineageEl.textContent = merged.length ? t("includes", { list: merged.join("; ") }) : "";
      lineageEl.hidden = !merged.length;
      tr.querySelector(".comments").textContent = String(d.comments || 0);
      tr.querySelector(".approve").hidden = d.status === "approved";
      tr.querySelector(".hide").hidden = d.status === "hidden";
      const targets = approved.filter((x) => x.domain_id !== d.domain_id);
      tr.querySelector(".merge").hidden = d.status === "merged" || !targets.length;
      tr.querySelector("label").textContent = t("merge_into", { title: d.title });
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
    });
}

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
          const ack = await run("undecide", { domain_id: id });
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
    const ack = await run("decide", payload);
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
