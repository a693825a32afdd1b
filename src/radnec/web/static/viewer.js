// The fused viewer (NiiVue, vendored): planning T1c, follow-ups fused on the planning grid, dose, isodose lines,
// GTV/PTV and lesion contours; crosshair in LPS mm (mapped server-side), seed placement, blend/checkerboard.
// Volumes are gzipped NIfTI from /cases/<id>/volumes/ (RAS affine; the science stays in Python).
import { Niivue, SLICE_TYPE } from "/static/vendor/niivue.js";

const ISO_COLOURS = [[255, 40, 40], [255, 170, 0], [60, 140, 255], [0, 220, 120], [230, 80, 230]];
const STRUCT_LUT = { R: [0, 255, 0], G: [0, 105, 230], B: [0, 180, 255], A: [0, 255, 255], I: [0, 1, 2], labels: ["", "GTV", "PTV"] };
const LESION_COLOURS = [[255, 255, 0], [255, 120, 200], [120, 255, 255], [200, 255, 120], [255, 200, 120]];

function labelLut(colours, n, names) {
  const lut = { R: [0], G: [0], B: [0], A: [0], I: [0], labels: [""] };
  for (let k = 1; k <= n; k++) {
    const c = colours[(k - 1) % colours.length];
    lut.R.push(c[0]); lut.G.push(c[1]); lut.B.push(c[2]); lut.A.push(255); lut.I.push(k); lut.labels.push(names ? names[k - 1] : String(k));
  }
  return lut;
}

export class CaseViewer {
  constructor(caseId, canvas, els) {
    this.caseId = caseId;
    this.canvas = canvas;
    this.els = els;
    this.index = null;
    this.layers = {};
    this.tp = 0;
    this.seedArmed = false;
    this.onSeed = null;
    this.lastMm = null;
    this.mapTimer = null;
    this.nv = new Niivue({
      backColor: [0, 0, 0, 1], show3Dcrosshair: true, isColorbar: false, dragAndDropEnabled: false,
      crosshairColor: [0.2, 1, 0.2, 0.8], crosshairWidth: 1, crosshairGap: 10, multiplanarForceRender: true, isOrientCube: false,
      loadingText: "loading images…",
    });
  }

  base() { return `/cases/${this.caseId}/volumes/`; }

  async load() {
    const resp = await fetch(this.base() + "index.json", { credentials: "same-origin" });
    if (!resp.ok) throw new Error(`images not available (${resp.status})`);
    this.index = await resp.json();
    const ix = this.index;
    if (!this.attached) { await this.nv.attachToCanvas(this.canvas); this.attached = true; }
    const v = (file, extra = {}) => ({ url: this.base() + file + `?k=${ix.key.slice(0, 12)}`, name: file, ...extra });
    const list = [];
    const order = [];
    ix.timepoints.forEach((tp) => { list.push(v(tp.t1c_file, { colormap: "gray", opacity: tp.index === 0 ? 1 : 0 })); order.push(`t1c-${tp.index}`); });
    list.push(v(ix.dose_file, { colormap: "jet", opacity: 0, cal_min: 0.5, cal_max: Math.max(1, ix.dose_max_gy) })); order.push("dose");
    ix.lesions.forEach((les) => { list.push(v(les.isodose_file, { colormap: "gray", opacity: 0 })); order.push(`iso-${les.index}`); });
    list.push(v(ix.structures_file, { colormap: "gray", opacity: 1 })); order.push("structures");
    ix.timepoints.forEach((tp) => { list.push(v(tp.lesion_file, { colormap: "gray", opacity: 0 })); order.push(`lesion-${tp.index}`); });
    await this.nv.loadVolumes(list);
    this.layers = {};
    order.forEach((name, i) => { this.layers[name] = this.nv.volumes[i]; });
    for (const tp of ix.timepoints.slice(1)) {
      const vol = this.layers[`t1c-${tp.index}`];
      vol.isTransparentBelowCalMin = false;
    }
    for (const les of ix.lesions) {
      this.layers[`iso-${les.index}`].setColormapLabel(labelLut(ISO_COLOURS, les.isodose_levels.length, les.isodose_levels.map((l) => l.label)));
    }
    this.layers.structures.setColormapLabel(STRUCT_LUT);
    const names = ix.lesions.map((l) => l.name);
    for (const tp of ix.timepoints) this.layers[`lesion-${tp.index}`].setColormapLabel(labelLut(LESION_COLOURS, Math.max(1, names.length), names));
    this.nv.setInterpolation(true);
    this.nv.onLocationChange = (data) => this.located(data);
    this.setLayout(this.els.layout ? this.els.layout.value : "multi");
    this.isoLesion = Math.min(this.isoLesion || 0, ix.lesions.length - 1);
    if (ix.lesions.length) this.goTo(ix.lesions[this.isoLesion].seed_lps);
    this.apply();
    this.showCoords(Array.from(this.nv.frac2mm(this.nv.scene.crosshairPos)).slice(0, 3));
    return ix;
  }

  setLayout(kind) {
    const types = { multi: SLICE_TYPE.MULTIPLANAR, axial: SLICE_TYPE.AXIAL, coronal: SLICE_TYPE.CORONAL, sagittal: SLICE_TYPE.SAGITTAL, render: SLICE_TYPE.RENDER };
    this.nv.setSliceType(types[kind] ?? SLICE_TYPE.MULTIPLANAR);
  }

  // LPS (planning frame) → the viewer's RAS world; the sign flip is the NIfTI convention the server wrote.
  goTo(lps) {
    const frac = this.nv.mm2frac([-lps[0], -lps[1], lps[2]]);
    this.nv.scene.crosshairPos = frac;
    this.nv.updateGLVolume();
    this.nv.drawScene();
  }

  // CSS pixel position (relative to the canvas) of a planning-frame LPS point in the current view, or null.
  canvasXY(lps) {
    const pos = this.nv.frac2canvasPos(this.nv.mm2frac([-lps[0], -lps[1], lps[2]]));
    if (!pos) return null;
    const dpr = this.nv.uiData?.dpr || window.devicePixelRatio || 1;
    return [pos[0] / dpr, pos[1] / dpr];
  }

  // 2-D zoom about the crosshair (NiiVue's pan keeps the crosshair's screen position: pan = (1 - zoom) · mm).
  zoom(z) {
    const mm = Array.from(this.nv.frac2mm(this.nv.scene.crosshairPos));
    this.nv.setPan2Dxyzmm([(1 - z) * mm[0], (1 - z) * mm[1], (1 - z) * mm[2], z]);
    this.nv.drawScene();
  }

  // Crosshair on a lesion's seed (planning frame), zoom kept.
  centre(index) {
    const les = this.index?.lesions?.[index ?? this.isoLesion ?? 0];
    if (!les) return;
    const z = this.nv.scene.pan2Dxyzmm[3];
    this.nv.setPan2Dxyzmm([0, 0, 0, 1]);
    this.goTo(les.seed_lps);
    this.zoom(z);
    this.showCoords(Array.from(this.nv.frac2mm(this.nv.scene.crosshairPos)).slice(0, 3));
  }

  setTimepoint(i) { this.tp = i; this.apply(); }

  async apply() {
    if (!this.index) return;
    const ix = this.index;
    const e = this.els;
    const mode = e.compare ? e.compare.value : "fused";
    const blend = e.blend ? Number(e.blend.value) / 100 : 0.5;
    if (mode === "checker" && this.tp > 0) await this.checker(this.tp);
    for (const tp of ix.timepoints.slice(1)) {
      const sel = tp.index === this.tp;
      this.setOpacity(`t1c-${tp.index}`, sel && mode !== "checker" ? (mode === "blend" ? blend : 1) : 0);
      this.setOpacity(`checker-${tp.index}`, sel && mode === "checker" ? 1 : 0);
    }
    const iso = e.isodose ? e.isodose.checked : true;
    ix.lesions.forEach((les) => this.setOpacity(`iso-${les.index}`, iso && les.index === (this.isoLesion || 0) ? 1 : 0));
    this.setOpacity("dose", e.colourwash && e.colourwash.checked ? 0.45 : 0);
    this.setOpacity("structures", e.structures && !e.structures.checked ? 0 : 1);
    ix.timepoints.forEach((tp) => this.setOpacity(`lesion-${tp.index}`, (!e.lesion || e.lesion.checked) && tp.index === this.tp ? 1 : 0));
    this.nv.updateGLVolume();
    if (e.tpLabel) { const tp = ix.timepoints[this.tp]; e.tpLabel.textContent = `${tp.label}${tp.date ? " (" + tp.date + ")" : ""}`; }
  }

  setOpacity(name, value) {
    const vol = this.layers[name];
    if (!vol) return;
    const i = this.nv.volumes.indexOf(vol);
    if (i >= 0 && vol.opacity !== value) { vol.opacity = value; }
  }

  async checker(i) {
    const name = `checker-${i}`;
    if (this.layers[name]) return;
    const tp = this.index.timepoints[i];
    const vol = await this.nv.addVolumeFromUrl({ url: this.base() + tp.checker_file + `?k=${this.index.key.slice(0, 12)}`, name: tp.checker_file, colormap: "gray", opacity: 0 });
    vol.isTransparentBelowCalMin = false;
    this.nv.setVolume(vol, this.index.timepoints.length);  // right after the T1c layers, under dose and contours
    this.layers[name] = vol;
  }

  located(data) {
    const mm = data && data.mm ? [data.mm[0], data.mm[1], data.mm[2]] : null;
    if (!mm) return;
    this.lastMm = mm;
    if (this.seedArmed && this.onSeed) {
      this.seedArmed = false;
      this.onSeed(mm);
    }
    clearTimeout(this.mapTimer);
    this.mapTimer = setTimeout(() => this.showCoords(mm), 120);
  }

  async mapPoint(mm) {
    const q = mm.map((v) => v.toFixed(3)).join(",");
    const resp = await fetch(`/cases/${this.caseId}/viewer/map?ras=${encodeURIComponent(q)}`, { credentials: "same-origin" });
    if (!resp.ok) throw new Error(`point mapping failed (${resp.status})`);
    return resp.json();
  }

  async showCoords(mm) {
    if (!this.els.coords) return;
    try {
      const m = await this.mapPoint(mm);
      const f = (p) => p.map((v) => v.toFixed(1)).join(", ");
      const rows = [`<tr><th>planning</th><td data-frame="planning">${f(m.planning.lps)}</td><td></td></tr>`];
      m.followups.forEach((fu) => rows.push(`<tr><th>${fu.label}</th><td data-frame="${fu.label}">${f(fu.lps)}</td><td>own frame, through its ${fu.registration} registration (rigid part alone: ${f(fu.lps_rigid)})</td></tr>`));
      this.els.coords.innerHTML = `<table class="coords-table"><caption>Crosshair, LPS mm</caption>${rows.join("")}</table>`;
    } catch (err) {
      this.els.coords.textContent = String(err);
    }
  }
}
