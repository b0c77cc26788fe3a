// The facilitator's console: phases, method, reveal, moderation, live counts and results, decisions.
import { act, countRows, emit, h, num, onConnect, page, renderBars, setStatus, socket, syncList, t } from "./socket.js";

const $ = (id) => document.getElementById(id);
const WID = page.workshop_id;
const LOCKED = ["vote", "results", "decide", "closed"]; // the method cannot change from the vote on

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
});

function applyState(s) {
  state = s;
  if (s.results) results = s.results;
  render();
}

// ---------------------------------------------------------------- controls

const phaseButtons = $("phase-buttons");
for (const phase of page.phases) {
  phaseButtons.append(
    h("button", {
      type: "button", class: "phase-button", "data-phase": phase, "aria-pressed": "false",
      onclick: () => run("phase", { phase }),
    }, t(`phase_${phase}`)),
  );
}

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
}

function renderCounts() {
  if (!state) return;
  const rows = countRows(state.counts);
  const mean = state.total / Math.max(1, rows.length);
  const voters = (results && results.participation) || {};
  renderBars($("counts"), rows.map((r) => {
    const notes = [];
    if (voters[r.key]) notes.push(t("voters_value", { n: voters[r.key] }));
    // Only meaningful once the room has filled a little (about one person per helix).
    if (state.total >= rows.length && r.value < mean / 2) notes.push(t("under_represented"));
    return { ...r, meta: notes.join(" · ") };
  }));
  $("total").textContent = `(${t("participants_total", { n: state.total })})`;
}

function renderResults() {
  const ranking = results ? results.ranking : [];
  const participation = (results && results.participation) || {};
  const active = (page.helices || []).filter((x) => participation[x.key] > 0);
  const any = ranking.some((r) => r.voters > 0);
  $("results-empty").hidden = any;
  $("results-table").hidden = !any;
  // Header: the fixed columns, then one per helix that has voters.
  const head = $("results-head");
  while (head.children.length > 5) head.lastElementChild.remove();
  for (const x of active) head.append(h("th", { scope: "col", class: "num" }, x.label));
  const body = $("results-body");
  body.replaceChildren(...ranking.map((r, i) =>
    h("tr", {},
      h("td", {}, String(i + 1)),
      h("th", { scope: "row" }, r.title),
      h("td", { class: "num" }, num(r.score)),
      h("td", { class: "num" }, num(r.balanced_score)),
      h("td", { class: "num" }, String(r.voters)),
      ...active.map((x) => h("td", { class: "num" }, num((r.by_helix || {})[x.key] || 0))))));
}

function renderDomains() {
  const domains = state.domains;
  const approved = domains.filter((d) => d.status === "approved");
  const titles = new Map(domains.map((d) => [d.domain_id, d.title]));
  syncList($("domains-body"), domains, (d) => d.domain_id,
    (d) => {
      const id = d.domain_id;
      return h("tr", {},
        h("th", { scope: "row" }, h("span", { class: "title" }), h("span", { class: "desc small muted" })),
        h("td", { class: "status-cell" }),
        h("td", { class: "num comments" }),
        h("td", { class: "actions" },
          h("button", { type: "button", class: "small-button approve", onclick: () => run("moderate", { domain_id: id, action: "approve" }) }, t("approve")),
          h("button", { type: "button", class: "small-button hide", onclick: () => run("moderate", { domain_id: id, action: "hide" }) }, t("hide")),
          h("span", { class: "merge" },
            h("label", { class: "visually-hidden", for: `merge-${id}` }),
            h("select", { id: `merge-${id}`, class: "merge-into" }),
            h("button", {
              type: "button", class: "small-button", onclick: (event) => {
                const into = Number(event.currentTarget.previousElementSibling.value);
                if (!into) {
                  setStatus(statusEl, t("choose_domain"), "error");
                  return;
                }
                run("moderate", { domain_id: id, action: "merge", into });
              },
            }, t("merge")))));
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
      tr.querySelector(".comments").textContent = String(d.comments || 0);
      tr.querySelector(".approve").hidden = d.status === "approved";
      tr.querySelector(".hide").hidden = d.status === "hidden";
      tr.querySelector(".merge").hidden = d.status !== "approved";
      tr.querySelector("label").textContent = t("merge_into", { title: d.title });
      tr.querySelector(".approve").setAttribute("aria-label", t("approve_domain", { title: d.title }));
      tr.querySelector(".hide").setAttribute("aria-label", t("hide_domain", { title: d.title }));
      tr.querySelector(".merge button").setAttribute("aria-label", t("merge_domain", { title: d.title }));
      const select = tr.querySelector("select");
      const targets = approved.filter((x) => x.domain_id !== d.domain_id);
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
        form.elements.indicators.value = p ? (p.indicators || []).join("\n") : "";
      }
      form.elements.rank.max = ws.max_priorities;
      form.querySelector(".save").disabled = !inDecide;
      const undo = form.querySelector(".undecide");
      undo.hidden = !p;
      undo.disabled = !inDecide;
    });
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
    h("textarea", { id: field("indicators"), name: "indicators", rows: 3 }),
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
    const indicators = form.elements.indicators.value.split("\n").map((x) => x.trim()).filter(Boolean);
    const ack = await run("decide", {
      domain_id: id,
      rank: Number(form.elements.rank.value),
      rationale: form.elements.rationale.value.trim(),
      indicators,
    });
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
