// The case list and the zip import.
const esc = (s) => String(s ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));

async function list() {
  const resp = await fetch("/api/cases", { credentials: "same-origin" });
  const cases = resp.ok ? await resp.json() : [];
  const body = document.querySelector("#cases tbody");
  body.innerHTML = cases.length ? cases.map((c) => `<tr><td><a href="/cases/${c.id}">${esc(c.label)}</a></td><td>${esc(c.pseudonym)}</td>
    <td>${esc(c.status)}${c.analysed ? " ✓" : ""}</td><td>${c.n_studies}</td><td>${esc(String(c.created_utc).replace("T", " ").slice(0, 16))}</td></tr>`).join("")
    : `<tr><td colspan="5">No cases yet: import a zip of a case folder below.</td></tr>`;
}

document.getElementById("import-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const status = document.getElementById("import-status");
  status.textContent = "uploading…";
  const resp = await fetch("/api/cases/import", { method: "POST", body: new FormData(ev.target), credentials: "same-origin" });
  const body = await resp.json().catch(() => ({}));
  if (!resp.ok) { status.textContent = `refused: ${body.detail || resp.status}`; return; }
  status.innerHTML = `imported; the analysis runs as job ${body.job_id}` + (body.case_id ? ` — <a href="/cases/${body.case_id}">open the case</a>` : "");
  list();
});
list();
