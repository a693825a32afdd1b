// The case page: live panels from analysis.json, jobs (seed, clinical, re-analysis) with progress,
// the clinical form generated from the case file's JSON schema, the tumour-board note, and the viewer.
import { CaseViewer } from "/static/viewer.js";

const root = document.getElementById("case");
const caseId = Number(root.dataset.caseId);
const $ = (id) => document.getElementById(id);
const esc = (s) => String(s ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
const num = (v, d = 1) => (v === null || v === undefined || Number.isNaN(Number(v)) ? "—" : Number(v).toFixed(d));
const pct = (p) => (p === null || p === undefined ? "—" : (100 * p).toFixed(0) + " %");
const api = async (path, opts = {}) => {
  const resp = await fetch(path, { credentials: "same-origin", ...opts });
  const body = resp.headers.get("content-type")?.includes("json") ? await resp.json() : await resp.text();
  if (!resp.ok) { const err = new Error(body?.detail ? (typeof body.detail === "string" ? body.detail : JSON.stringify(body.detail)) : `HTTP ${resp.status}`); err.status = resp.status; throw err; }
  return body;
};
const state = { analysis: null, viewer: null, loadedKey: null };
window.radnec = state;

// ---------------------------------------------------------------------------------------------- jobs
async function waitJob(jobId, what) {
  const status = $("job-status");
  for (;;) {
    const job = await api(`/api/jobs/${jobId}`);
    status.dataset.state = job.state;
    status.textContent = `${what}: ${job.state}${job.stage ? " — " + job.stage : ""}${job.progress?.length ? " (" + job.progress.join(" → ") + ")" : ""}`;
    if (job.state === "done" || job.state === "failed") {
      if (job.state === "failed") status.textContent = `${what} failed: ${job.error || "see the server log"}`;
      return job;
    }
    await new Promise((r) => setTimeout(r, 500));
  }
}

// ---------------------------------------------------------------------------------------------- panels
function overview(a) {
  const rows = (a.overview || []).map((o) => `<tr data-lesion="${esc(o.lesion)}"><th>${esc(o.lesion)}</th><td>${esc(o.kind)}</td><td>${esc(o.status)}</td>
    <td>${num(o.latest_lesion_cc, 2)} cm³ (${o.change_pct == null ? "—" : (o.change_pct > 0 ? "+" : "") + num(o.change_pct, 0) + " %"})</td><td>${esc(o.rano_bm)}</td>
    <td>${esc(o.pattern)}, ${esc(o.symmetry)}</td><td>${num(o.coverage_rx100_pct, 0)} %</td>
    <td class="posterior">${pct(o.posterior_tp)}${o.interval95 ? ` <small>(${pct(o.interval95[0])}–${pct(o.interval95[1])})</small>` : ""}</td>
    <td class="seed">${(o.seed_lps || []).map((v) => num(v, 1)).join(", ")}</td></tr>`);
  return `<table class="grid"><thead><tr><th>Lesion</th><th>Kind</th><th>Status</th><th>Latest volume</th><th>RANO-BM</th><th>Pattern</th>
    <th>In 100 % Rx</th><th>P(progression)</th><th>Seed (LPS mm, planning)</th></tr></thead><tbody>${rows.join("")}</tbody></table>
    ${(a.warnings || []).length ? `<details><summary>${a.warnings.length} warning(s)</summary><ul>${a.warnings.map((w) => `<li>${esc(w)}</li>`).join("")}</ul></details>` : ""}
    ${(a.skipped || []).length ? `<details><summary>${a.skipped.length} input(s) not used</summary><ul>${a.skipped.map((w) => `<li>${esc(w)}</li>`).join("")}</ul></details>` : ""}`;
}

function dvhSvg(dvh, rx) {
  if (!dvh || !dvh.dose_gy?.length) return "<p>No DVH (the lesion is outside the dose grid).</p>";
  const W = 420, H = 220, L = 44, B = 30;
  const xmax = Math.max(...dvh.dose_gy, rx * 1.1);
  const X = (g) => L + (W - L - 10) * g / xmax, Y = (p) => H - B - (H - B - 10) * p / 100;
  const pts = dvh.dose_gy.map((g, i) => `${X(g).toFixed(1)},${Y(dvh.volume_pct[i]).toFixed(1)}`).join(" ");
  const ticks = [0, 0.25, 0.5, 0.75, 1].map((f) => Math.round(f * xmax));
  return `<svg class="dvh" viewBox="0 0 ${W} ${H}" role="img" aria-label="cumulative DVH of the lesion">
    <line x1="${L}" y1="${Y(0)}" x2="${W - 10}" y2="${Y(0)}" stroke="#888"/><line x1="${L}" y1="${Y(0)}" x2="${L}" y2="10" stroke="#888"/>
    ${ticks.map((t) => `<text x="${X(t)}" y="${H - 12}" font-size="10" text-anchor="middle">${t}</text>`).join("")}
    ${[0, 50, 100].map((p) => `<text x="${L - 4}" y="${Y(p) + 3}" font-size="10" text-anchor="end">${p}</text>`).join("")}
    <text x="${(W + L) / 2}" y="${H - 1}" font-size="10" text-anchor="middle">dose (Gy)</text>
    <text x="10" y="${H / 2}" font-size="10" transform="rotate(-90 10 ${H / 2})" text-anchor="middle">volume (%)</text>
    <line x1="${X(rx)}" y1="10" x2="${X(rx)}" y2="${Y(0)}" stroke="#d33" stroke-dasharray="4 3"/><text x="${X(rx) + 3}" y="20" font-size="10" fill="#d33">Rx ${rx} Gy</text>
    <polyline fill="none" stroke="#1565c0" stroke-width="2" points="${pts}"/></svg>`;
}

function lesionPanel(les, rx, figures) {
  const fig = (key, alt) => figures.includes(key) ? `<figure><img loading="lazy" src="/cases/${caseId}/viewer/figure/${encodeURIComponent(key)}.png" alt="${esc(alt)}"><figcaption>${esc(alt)}</figcaption></figure>` : "";
  const tps = (les.timepoints || []).map((t) => `<tr><td>${esc(t.date)}</td><td>${t.days_since_srs ?? "—"}</td><td>${num(t.enhancing_cc, 2)}</td><td>${num(t.necrotic_cc, 2)}</td>
    <td>${num(t.edema_cc, 2)}</td><td>${num(t.longest_diameter_mm, 1)}</td><td>${esc(t.rano_bm ?? t.response ?? "")}</td></tr>`).join("");
  const d = les.dose;
  const cov = d ? `<table class="kv"><tr><th>Dmin / Dmean / Dmax</th><td>${num(d.dmin_gy)} / ${num(d.dmean_gy)} / ${num(d.dmax_gy)} Gy</td></tr>
     <tr><th>D95</th><td>${num(d.d95_gy)} Gy</td></tr>
     <tr><th>Lesion inside 100 / 80 / 50 % Rx</th><td class="coverage">${num(d.coverage_pct.rx100, 0)} / ${num(d.coverage_pct.rx80, 0)} / ${num(d.coverage_pct.rx50, 0)} %</td></tr></table>` :
    `<p>Dose not computed${les.dose_bound ? ": " + esc(les.dose_bound.shown || "") : ""}.</p>`;
  const ev = les.evidence || {};
  const items = (ev.items || []).map((it) => `<tr class="${it.used ? "" : "unused"}"><td>${esc(it.label)}</td><td>${esc(it.finding ?? "")}</td><td>${esc(it.grade)}</td>
    <td>${it.lr == null ? "—" : num(it.lr, 2)}</td><td class="contrib"><span class="bar ${it.contribution >= 0 ? "tp" : "rn"}" style="width:${Math.min(100, Math.abs(it.contribution || 0) * 40)}px"></span> ${num(it.contribution, 2)}</td></tr>`).join("");
  const voi = (ev.value_of_information || []).map((v) => `<tr><td>${esc(v.label)}</td><td>${pct(v.posterior_if_positive)}</td><td>${pct(v.posterior_if_negative)}</td><td>${num(v.expected_abs_change, 2)}</td><td>${v.could_change_band ? "yes" : "no"}</td></tr>`).join("");
  const opts = (les.options || []).map((o) => `<li><strong>${esc(o.label)}</strong> — ${esc(o.fit)}${(o.rationale || []).length ? ": " + o.rationale.map(esc).join("; ") : ""}</li>`).join("");
  return `<section class="panel lesion" data-lesion="${esc(les.name)}"><h2>${esc(les.name)} <small>${esc(les.kind)} · ${esc(les.status)} — ${esc(les.status_reason || "")}</small></h2>
   <div class="cols"><div><h3>Lesion over time</h3><table class="grid"><thead><tr><th>Date</th><th>Days since SRS</th><th>Enhancing cm³</th><th>Necrotic cm³</th><th>Oedema cm³</th><th>Longest mm</th><th>RANO-BM</th></tr></thead><tbody>${tps}</tbody></table>
   <h3>Dose to the lesion (Rx ${num(rx, 1)} Gy)</h3>${cov}</div><div><h3>DVH</h3>${dvhSvg(d?.details?.dvh, rx)}</div></div>
   <h3>Pattern: ${esc(les.pattern ?? "not classified")} · growth ${esc(les.growth_symmetry ?? "not assessed")}</h3>
   <div class="figs">${fig(`views_latest:${les.name}`, "Latest follow-up on the planning frame with isodoses")}${fig(`side_by_side:${les.name}`, "Planning vs latest follow-up")}</div>
   <h3>Evidence: P(progression) ${pct(ev.prior_tp)} → <span class="posterior">${pct(ev.posterior_tp)}</span> ${ev.interval95 ? `(95 % interval ${pct(ev.interval95[0])}–${pct(ev.interval95[1])})` : ""} <small>${esc(ev.band || "")}</small></h3>
   <table class="grid evidence"><thead><tr><th>Item</th><th>Finding</th><th>Grade</th><th>LR</th><th>Contribution (log LR, + favours progression)</th></tr></thead><tbody>${items}</tbody></table>
   ${voi ? `<h3>Value of the next tests</h3><table class="grid"><thead><tr><th>Test</th><th>P if positive</th><th>P if negative</th><th>Expected change</th><th>Could change the band</th></tr></thead><tbody>${voi}</tbody></table>` : ""}
   ${opts ? `<h3>Options to discuss</h3><ul>${opts}</ul>` : ""}</section>`;
}

async function refresh({ viewer = true } = {}) {
  let a;
  try { a = await api(`/api/cases/${caseId}/analysis`); } catch (err) {
    $("overview").textContent = err.status === 404 ? "Not analysed yet." : String(err);
    return false;
  }
  state.analysis = a;
  $("overview").innerHTML = overview(a);
  const figures = await api(`/cases/${caseId}/viewer/figures`).catch(() => []);
  const rxOf = Object.fromEntries((a.overview || []).map((o) => [o.lesion, o.prescription_gy]));
  $("lesions").innerHTML = (a.lesions || []).map((l) => lesionPanel(l, rxOf[l.name] ?? a.plan?.prescription_gy, figures)).join("");
  document.body.dataset.analysed = String(Date.now());
  if (viewer) await loadViewer();
  return true;
}

// ---------------------------------------------------------------------------------------------- viewer
async function loadViewer() {
  const e = { layout: $("layout"), compare: $("compare"), blend: $("blend"), isodose: $("show-isodose"), colourwash: $("show-colourwash"),
    structures: $("show-structures"), lesion: $("show-lesion"), tpLabel: $("tp-label"), coords: $("coords") };
  if (!state.viewer) {
    state.viewer = new CaseViewer(caseId, $("gl"), e);
    const v = state.viewer;
    $("tp-slider").addEventListener("input", (ev) => v.setTimepoint(Number(ev.target.value)));
    for (const id of ["show-isodose", "show-colourwash", "show-structures", "show-lesion", "compare", "blend"]) $(id).addEventListener("input", () => v.apply());
    $("layout").addEventListener("change", (ev) => v.setLayout(ev.target.value));
    $("zoom").addEventListener("change", (ev) => v.zoom(Number(ev.target.value)));
    $("centre").addEventListener("click", () => v.centre());
    $("iso-lesion").addEventListener("change", (ev) => { v.isoLesion = Number(ev.target.value); v.apply(); legend(); });
    $("seed-mode").addEventListener("click", () => { v.seedArmed = !v.seedArmed; $("seed-mode").setAttribute("aria-pressed", String(v.seedArmed)); });
    v.onSeed = (mm) => { $("seed-mode").setAttribute("aria-pressed", "false"); placeSeed(mm); };
  }
  const v = state.viewer;
  $("viewer-status").textContent = "loading images…";
  const t0 = performance.now();
  try {
    let ix;
    for (let attempt = 0; ; attempt++) {
      try { ix = await v.load(); break; } catch (err) {
        // "Failed to fetch" (a connection the server closed as it was reused, seen under load): try again twice
        if (!(err instanceof TypeError) || attempt >= 2) throw err;
        $("viewer-status").textContent = `loading images… (retry ${attempt + 1} after: ${err.message})`;
        await new Promise((r) => setTimeout(r, 1000));
      }
    }
    $("tp-slider").max = String(ix.timepoints.length - 1);
    v.setTimepoint(Math.min(Number($("tp-slider").value), ix.timepoints.length - 1));
    $("iso-lesion").innerHTML = ix.lesions.map((l) => `<option value="${l.index}">${esc(l.name)} (Rx ${l.prescription_gy} Gy)</option>`).join("");
    $("iso-lesion").value = String(v.isoLesion || 0);
    legend();
    state.loadedKey = ix.key;
    $("viewer-status").textContent = `images loaded in ${((performance.now() - t0) / 1000).toFixed(1)} s`;
    document.body.dataset.viewerKey = ix.key;
  } catch (err) {
    $("viewer-status").textContent = String(err);
  }
}

function legend() {
  const v = state.viewer;
  const les = v?.index?.lesions?.[v.isoLesion || 0];
  if (!les) { $("iso-legend").innerHTML = ""; return; }
  const c = [[255, 40, 40], [255, 170, 0], [60, 140, 255], [0, 220, 120], [230, 80, 230]];
  $("iso-legend").innerHTML = "Isodoses: " + les.isodose_levels.map((l, i) => `<span class="sw" style="background:rgb(${c[i % c.length].join(",")})"></span>${esc(l.label)} (${l.gy} Gy)`).join(" ") +
    ` · <span class="sw" style="background:rgb(255,105,180)"></span>GTV <span class="sw" style="background:rgb(0,230,255)"></span>PTV <span class="sw" style="background:rgb(255,255,0)"></span>lesion`;
}

async function placeSeed(mm) {
  try {
    const m = await state.viewer.mapPoint(mm);
    const p = m.planning.lps;
    $("job-status").textContent = `seed at ${p.map((x) => x.toFixed(1)).join(", ")} (LPS mm, planning): submitting…`;
    const t0 = performance.now();
    const sub = await api(`/api/cases/${caseId}/seed`, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ point_lps: p, frame: "planning" }) });
    const job = await waitJob(sub.job_id, "lesion re-run");
    if (job.state === "done") {
      await refresh();
      $("job-status").textContent += ` — numbers updated ${((performance.now() - t0) / 1000).toFixed(1)} s after the click`;
    }
  } catch (err) { $("job-status").textContent = `seed: ${err.message}`; }
}

// ---------------------------------------------------------------------------------------------- clinical form
function resolve(schema, node) {
  if (node?.$ref) return resolve(schema, schema.$defs[node.$ref.split("/").pop()]);
  if (node?.anyOf) {
    const real = node.anyOf.filter((n) => n.type !== "null");
    if (real.length === 1) return { ...resolve(schema, real[0]), nullable: true, description: node.description, title: node.title };
  }
  return node;
}

function field(schema, node, path, value, optional = false) {
  const n = resolve(schema, node);
  const id = "f-" + path.join("-");
  const name = path.join(".");
  const title = esc(node.title || n.title || path[path.length - 1]);
  const help = n.description || node.description ? `<small class="help">${esc(node.description || n.description)}</small>` : "";
  const err = `<span class="field-error" data-error-for="${name}"></span>`;
  if (n.type === "object" && n.properties) {
    // fields of an optional block (e.g. her2_adc) send nothing until filled in: its yes/no fields are tri-state
    const inner = Object.entries(n.properties).map(([k, sub]) => field(schema, sub, [...path, k], value?.[k], optional || !!n.nullable)).join("");
    return `<fieldset data-path="${name}"><legend>${title}</legend>${help}${inner}</fieldset>`;
  }
  let input;
  const v = value ?? "";
  if (n.enum) {
    const opts = (n.nullable ? [""] : []).concat(n.enum).map((o) => `<option value="${esc(o)}" ${String(o) === String(v) ? "selected" : ""}>${esc(o === "" ? "—" : o)}</option>`).join("");
    input = `<select id="${id}" name="${name}" data-kind="enum">${opts}</select>`;
  } else if (n.type === "boolean") {
    input = n.nullable || optional
      ? `<select id="${id}" name="${name}" data-kind="bool"><option value="" ${v === "" ? "selected" : ""}>—</option><option value="true" ${v === true ? "selected" : ""}>yes</option><option value="false" ${v === false ? "selected" : ""}>no</option></select>`
      : `<input type="checkbox" id="${id}" name="${name}" data-kind="checkbox" ${v === true ? "checked" : ""}>`;
  } else if (n.type === "integer" || n.type === "number") {
    input = `<input type="number" step="${n.type === "integer" ? 1 : "any"}" id="${id}" name="${name}" data-kind="${n.type}" value="${esc(v)}">`;
  } else if (n.type === "array") {
    input = `<textarea id="${id}" name="${name}" data-kind="json" rows="2">${esc(JSON.stringify(value ?? []))}</textarea>`;
  } else if (n.format === "date") {
    input = `<input type="date" id="${id}" name="${name}" data-kind="string" value="${esc(v)}">`;
  } else {
    input = `<input type="text" id="${id}" name="${name}" data-kind="string" value="${esc(v)}">`;
  }
  return `<div class="field"><label for="${id}">${title}</label>${input}${err}${help}</div>`;
}

function collect(form) {
  const out = {};
  for (const el of form.querySelectorAll("[data-kind]")) {
    const path = el.name.split(".");
    let val;
    const k = el.dataset.kind;
    if (k === "checkbox") val = el.checked;
    else if (el.value === "") val = null;
    else if (k === "integer") val = Number.isInteger(Number(el.value)) ? Number(el.value) : el.value;
    else if (k === "number") val = Number.isFinite(Number(el.value)) ? Number(el.value) : el.value;
    else if (k === "bool") val = el.value === "true";
    else if (k === "json") { try { val = JSON.parse(el.value); } catch { val = el.value; } }
    else val = el.value;
    if (val === null) continue;
    let o = out;
    path.slice(0, -1).forEach((p) => { o = o[p] ??= {}; });
    o[path[path.length - 1]] = val;
  }
  return out;
}

function showErrors(form, message) {
  form.querySelectorAll(".field-error").forEach((e) => { e.textContent = ""; });
  form.querySelectorAll(".invalid").forEach((e) => e.classList.remove("invalid"));
  let placed = false;
  for (const m of message.matchAll(/field '([^']+)': ([^;]+)/g)) {
    const name = m[1].replace(/\[\d+\].*$/, "");
    const slot = form.querySelector(`[data-error-for="${CSS.escape(name)}"]`);
    if (slot) { slot.textContent = m[2]; form.querySelector(`[name="${CSS.escape(name)}"]`)?.classList.add("invalid"); placed = true; }
  }
  return placed;
}

async function clinicalForm() {
  const [schema, facts] = await Promise.all([api(`/cases/${caseId}/viewer/clinical-schema`), api(`/api/cases/${caseId}/clinical`)]);
  const form = $("clinical-form");
  const props = Object.entries(schema.properties).filter(([k]) => k !== "schema_version");
  $("clinical-fields").innerHTML = props.map(([k, node]) => field(schema, node, [k], facts[k])).join("");
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const body = collect(form);
    $("clinical-status").textContent = "saving…";
    try {
      const sub = await api(`/api/cases/${caseId}/clinical`, { method: "PUT", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
      showErrors(form, "");
      $("clinical-status").textContent = "saved; re-weighing the evidence…";
      const job = await waitJob(sub.job_id, "evidence update");
      if (job.state === "done") { await refresh({ viewer: false }); $("clinical-status").textContent = "saved; posterior updated"; }
      else $("clinical-status").textContent = "saved, but the update failed (see the status above)";
    } catch (err) {
      const placed = err.status === 422 && showErrors(form, err.message);
      $("clinical-status").textContent = placed ? "not saved: see the marked field(s)" : `not saved: ${err.message}`;
    }
  });
}

// ---------------------------------------------------------------------------------------------- note
async function note() {
  const n = await api(`/api/cases/${caseId}/note`).catch(() => ({ text: "" }));
  $("note").value = n.text || "";
  $("note-save").addEventListener("click", async () => {
    try { const r = await api(`/api/cases/${caseId}/note`, { method: "PUT", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ text: $("note").value }) });
      $("note-status").textContent = `saved ${r.updated_utc || ""}`; } catch (err) { $("note-status").textContent = `not saved: ${err.message}`; }
  });
}

$("reanalyse").addEventListener("click", async () => {
  try { const sub = await api(`/api/cases/${caseId}/analyze`, { method: "POST" }); const job = await waitJob(sub.job_id, "analysis"); if (job.state === "done") await refresh(); }
  catch (err) { $("job-status").textContent = `analysis: ${err.message}`; }
});

async function main() {
  clinicalForm().catch((err) => { $("clinical-fields").textContent = `form unavailable: ${err.message}`; });
  note();
  // a job already running for this case (e.g. the import's analysis): follow it, then show the result
  const jobs = await api(`/api/cases/${caseId}/jobs`).catch(() => []);
  const running = jobs.find((j) => j.state === "queued" || j.state === "running");
  if (!(await refresh()) && running) { await waitJob(running.id, running.kind); await refresh(); }
  else if (running) waitJob(running.id, running.kind).then((j) => j.state === "done" && refresh());
}
main();
