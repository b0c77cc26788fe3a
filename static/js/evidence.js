// The region's evidence beside a domain (issue #17), shared by the phone, the console and the
// projector: the figures of each linked sector in words ("RCA 1.8 · 4.2% of the region ·
// density 0.41 · complexity +0.7"), its related strengths, the data's source and year; and the
// sector picker (search by name or code, accents ignored; chosen sectors as chips).
//
// `domain.evidence` is absent/null or {sectors: [{code, name, rca, share, density, complexity,
// related: [{code, name, rca}]}], source, year, region}; any number may be null (not computed).
import { h, page, syncList, t } from "./socket.js";

export const MAX_SECTORS = 20;

const lang = page.language || "en";
const fixed = (digits, sign = false) => new Intl.NumberFormat(lang, {
  minimumFractionDigits: digits, maximumFractionDigits: digits, ...(sign ? { signDisplay: "exceptZero" } : {}),
});
const oneDecimal = fixed(1);
const twoDecimals = fixed(2);
const signed = fixed(1, true);
const percent = new Intl.NumberFormat(lang, { style: "percent", minimumFractionDigits: 1, maximumFractionDigits: 1 });

const known = (x) => x !== null && x !== undefined && x !== "" && Number.isFinite(Number(x));

/** RCA with one decimal ("1.8"). */
export const rcaText = (x) => (known(x) ? oneDecimal.format(Number(x)) : "–");

/** The share of the region's total, a fraction (0.042 → "4.2%"). */
const shareText = (x) => percent.format(Number(x));

/** The sectors linked to a domain (an empty list when it has no evidence). */
export const sectorsOf = (d) => (d && d.evidence && Array.isArray(d.evidence.sectors) ? d.evidence.sectors : []);

/** Whether a domain has evidence to show. */
export const hasEvidence = (d) => sectorsOf(d).length > 0;

/** A sector's name, or its code when the data has no name. */
export const sectorName = (s) => (s && (s.name || s.code)) || "";

/** "Energía (D35)": the name with the code, for lists where codes matter. */
export const sectorLabel = (s) => (s.name && s.code && s.name !== s.code ? `${s.name} (${s.code})` : sectorName(s));

/** A sector's figures as short phrases, those the data has: RCA, share, density, complexity. */
export function sectorFacts(s) {
  const facts = [];
  if (known(s.rca)) facts.push(t("evidence_rca", { value: rcaText(s.rca) }));
  if (known(s.share)) facts.push(t("evidence_share", { value: shareText(s.share) }));
  if (known(s.density)) facts.push(t("evidence_density", { value: twoDecimals.format(Number(s.density)) }));
  if (known(s.complexity)) facts.push(t("evidence_complexity", { value: signed.format(Number(s.complexity)) }));
  return facts;
}

/** "Related strengths: Química (RCA 2.1), Plásticos (RCA 1.4)", or "" when none. */
export function relatedText(s) {
  const related = (s.related || []).filter((r) => r && (r.name || r.code));
  if (!related.length) return "";
  const list = related.map((r) => (known(r.rca) ? `${sectorName(r)} (${t("evidence_rca", { value: rcaText(r.rca) })})` : sectorName(r)));
  return t("evidence_related", { list: list.join(", ") });
}

/** "Source: INE, 2022" ("Source: INE" when the year is not known). */
export function sourceText(evidence) {
  if (!evidence || (!evidence.source && !evidence.year)) return "";
  const vars = { source: evidence.source || "–", year: evidence.year ?? "", region: evidence.region || "" };
  if (!known(evidence.year)) return t("evidence_source_only", vars);
  return t("evidence_source", vars);
}

/** The sector with the highest RCA (the first one when none has an RCA). */
export function strongest(d) {
  const sectors = sectorsOf(d);
  if (!sectors.length) return null;
  return sectors.reduce((best, s) => (known(s.rca) && (!known(best.rca) || Number(s.rca) > Number(best.rca)) ? s : best), sectors[0]);
}

/** One line for narrow places (projector lists, the console's summaries): "Energía · RCA 1.8". */
export function compactText(d) {
  const top = strongest(d);
  if (!top) return "";
  const more = sectorsOf(d).length - 1;
  const head = known(top.rca) ? `${sectorName(top)} · ${t("evidence_rca", { value: rcaText(top.rca) })}` : sectorName(top);
  return more > 0 ? `${head} ${t("evidence_more", { n: more })}` : head;
}

/** Specialised (RCA ≥ 1), or not: the figure is marked so the eye finds the strengths. */
const specialised = (s) => known(s.rca) && Number(s.rca) >= 1;

/**
 * The evidence block of a domain: one item per linked sector (its name, its figures, its
 * related strengths), then the source. `box` is the element to fill (created by evidenceBox);
 * it is hidden when the domain has no evidence.
 */
export function evidenceBox(extraClass = "") {
  return h("div", { class: `evidence ${extraClass}`.trim() },
    h("p", { class: "evidence-h" }, t("evidence_title")),
    h("ul", { class: "evidence-sectors" }),
    h("p", { class: "evidence-source" }));
}

export function fillEvidence(box, d) {
  const sectors = sectorsOf(d);
  box.hidden = !sectors.length;
  if (!sectors.length) return;
  syncList(box.querySelector(".evidence-sectors"), sectors, (s) => s.code,
    () => h("li", { class: "evidence-sector" },
      h("span", { class: "sector-name" }), " ",
      h("span", { class: "sector-facts" }),
      h("span", { class: "sector-related" })),
    (li, s) => {
      li.dataset.specialised = specialised(s) ? "yes" : "no";
      li.querySelector(".sector-name").textContent = sectorName(s);
      const facts = sectorFacts(s);
      li.querySelector(".sector-facts").textContent = facts.join(" · ");
      li.querySelector(".sector-facts").hidden = !facts.length;
      const related = relatedText(s);
      li.querySelector(".sector-related").textContent = related;
      li.querySelector(".sector-related").hidden = !related;
    });
  const source = box.querySelector(".evidence-source");
  source.textContent = sourceText(d.evidence);
  source.hidden = !source.textContent;
}

// ---------------------------------------------------------------- the sector picker

/** Lower case without accents: "Energía" and "energia" match. */
export const fold = (text) => String(text || "").normalize("NFD").replace(/\p{Diacritic}/gu, "").toLowerCase();

/** The sectors whose name or code holds every word typed (accents and case ignored). */
export function matchSectors(sectors, query, limit = 8) {
  const words = fold(query).split(/\s+/).filter(Boolean);
  if (!words.length) return [];
  const scored = [];
  for (const s of sectors) {
    const code = fold(s.code);
    const name = fold(s.name);
    const hay = `${code} ${name}`;
    if (!words.every((w) => hay.includes(w))) continue;
    // The code typed exactly, then names starting with the words, then the rest.
    const rank = code === words.join(" ") ? 0 : name.startsWith(words[0]) ? 1 : 2;
    scored.push({ s, rank });
  }
  scored.sort((a, b) => a.rank - b.rank || sectorName(a.s).localeCompare(sectorName(b.s), lang));
  return scored.slice(0, limit).map((x) => x.s);
}

const sectorLists = new Map(); // code → Promise of [{code, name}]

/** All the sectors of the workshop's data (GET /api/workshops/<code>/sectors), fetched once. */
export function loadSectors(code) {
  if (!sectorLists.has(code)) {
    const promise = fetch(`/api/workshops/${encodeURIComponent(code)}/sectors`, { headers: { Accept: "application/json" } })
      .then((r) => (r.ok ? r.json() : []))
      .then((list) => (Array.isArray(list) ? list : []))
      .catch(() => {
        sectorLists.delete(code); // try again next time
        return [];
      });
    sectorLists.set(code, promise);
  }
  return sectorLists.get(code);
}

/**
 * A sector picker: a search field, the matching sectors as buttons to add, the chosen ones as
 * chips to remove (at most MAX_SECTORS). `prefix` makes its ids unique on the page.
 * Returns {el, chosen(), set(codes), setSectors(list), onChange}.
 */
export function sectorPicker(prefix, { label = t("sectors_search"), onChange = null } = {}) {
  let all = [];
  let byCode = new Map();
  let chosen = [];
  const inputId = `${prefix}-sector-search`;
  const helpId = `${prefix}-sector-help`;
  const input = h("input", {
    id: inputId, type: "search", class: "sector-search", autocomplete: "off", spellcheck: "false",
    "aria-describedby": helpId, enterkeyhint: "search",
  });
  const matches = h("ul", { class: "sector-matches", "aria-label": t("sectors_matches") });
  const note = h("p", { class: "sector-note small", role: "status" });
  const chips = h("ul", { class: "sector-chips", "aria-label": t("sectors_chosen_label") });
  const count = h("p", { class: "sector-count small muted" });
  const el = h("div", { class: "sector-picker-body" },
    h("label", { for: inputId, class: "sector-label" }, label),
    h("p", { id: helpId, class: "small muted" }, t("sectors_help", { max: MAX_SECTORS })),
    input, note, matches, count, chips);

  const nameOf = (code) => (byCode.has(code) ? sectorLabel(byCode.get(code)) : code);

  function renderMatches() {
    const query = input.value.trim();
    const found = matchSectors(all, query).filter((s) => !chosen.includes(s.code));
    syncList(matches, found, (s) => s.code,
      (s) => h("li", {}, h("button", { type: "button", class: "sector-add secondary", onclick: () => add(s.code) })),
      (li, s) => {
        const button = li.querySelector("button");
        button.textContent = sectorLabel(s);
        button.setAttribute("aria-label", t("sector_add", { name: sectorLabel(s) }));
        button.disabled = chosen.length >= MAX_SECTORS;
      });
    let text = "";
    if (query && !found.length) text = t("sectors_none_match", { text: query });
    else if (chosen.length >= MAX_SECTORS) text = t("sectors_max", { max: MAX_SECTORS });
    if (note.textContent !== text) note.textContent = text;
    note.hidden = !text;
  }

  function renderChips() {
    syncList(chips, chosen, (code) => code,
      (code) => h("li", {}, h("button", { type: "button", class: "sector-chip", onclick: () => remove(code) },
        h("span", { class: "chip-name" }), h("span", { class: "chip-x", "aria-hidden": "true" }, "×"))),
      (li, code) => {
        li.querySelector(".chip-name").textContent = nameOf(code);
        li.querySelector("button").setAttribute("aria-label", t("sector_remove", { name: nameOf(code) }));
      });
    chips.hidden = !chosen.length;
    count.textContent = chosen.length ? t("sectors_chosen", { n: chosen.length, max: MAX_SECTORS }) : "";
    count.hidden = !chosen.length;
  }

  function changed() {
    renderChips();
    renderMatches();
    if (api.onChange) api.onChange(chosen.slice());
  }

  function add(code) {
    if (chosen.includes(code) || chosen.length >= MAX_SECTORS) return;
    chosen.push(code);
    input.value = "";
    changed();
    input.focus();
  }

  function remove(code) {
    const at = chosen.indexOf(code);
    if (at < 0) return;
    chosen.splice(at, 1);
    changed();
    // The keyboard stays in the chips (the next one, else the search field).
    const next = chips.children[Math.min(at, chips.children.length - 1)];
    (next ? next.querySelector("button") : input).focus();
  }

  input.addEventListener("input", renderMatches);
  input.addEventListener("keydown", (event) => {
    if (event.key !== "Enter") return;
    event.preventDefault(); // never submits the form it sits in
    const first = matches.querySelector("button:not(:disabled)");
    if (first) first.click();
  });

  const api = {
    el,
    onChange,
    chosen: () => chosen.slice(),
    set(codes) {
      chosen = Array.from(new Set(codes || [])).slice(0, MAX_SECTORS);
      renderChips();
      renderMatches();
    },
    setSectors(list) {
      all = list || [];
      byCode = new Map(all.map((s) => [s.code, s]));
      renderChips();
      renderMatches();
    },
    clear() {
      input.value = "";
      api.set([]);
    },
  };
  renderChips();
  renderMatches();
  return api;
}

/** Whether the workshop has the region's data loaded (then the pickers show). */
export const hasDiagnosis = (state) => Boolean(state && state.workshop && state.workshop.diagnosis);

/** "Regional data: INE 2022, 38 sectors (Región X)", for the console. */
export function diagnosisText(diagnosis) {
  if (!diagnosis) return t("diagnosis_none");
  return t("diagnosis_loaded", {
    source: diagnosis.source || "–", year: diagnosis.year ?? "–", n: diagnosis.sectors ?? 0, region: diagnosis.region || "–",
  });
}
