"""Stage 8, outputs: the report's pictures (each saved under the key of what it shows), ``report.html``,
``analysis.json`` (a function of the inputs only) and ``run.json`` (timestamps, timings, which stages
ran and which were reused)."""

from __future__ import annotations

import platform
from collections.abc import Callable
from functools import partial
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import numpy as np
import SimpleITK as sitk

from radnec import DISCLAIMER, __version__
from radnec.case import Analysis
from radnec.errors import RadnecError
from radnec.pipeline.state import CaseInputs, Fusion, LesionTrack
from radnec.pipeline.workspace import Workspace, write_text_atomic

#: Libraries whose versions go into the provenance block.
PROVENANCE_PACKAGES = ("numpy", "scipy", "SimpleITK", "pydicom", "highdicom", "scikit-image", "pydantic", "matplotlib")
#: Half-width (mm) of the cube around the lesion resampled for the report pictures.
FIGURE_HALF_WIDTH_MM = 40.0
#: Pixel pitch (mm) of the report pictures' common grid.
FIGURE_SPACING_MM = 1.0


def provenance(case: CaseInputs) -> dict[str, Any]:
    """Library versions, the SHA-256 of every input file, the study dates, the disclaimer."""
    versions: dict[str, str | None] = {"radnec": __version__, "python": platform.python_version()}
    for pkg in PROVENANCE_PACKAGES:
        try:
            versions[pkg] = version(pkg)
        except PackageNotFoundError:
            versions[pkg] = None
    return {
        "versions": versions,
        "inputs_sha256": dict(sorted(case.file_sha256.items())),
        "planning_study_date": case.planning.date,
        "followup_dates": [tp.date for tp in case.followups],
        "disclaimer": DISCLAIMER,
    }


def _display_grid(center_lps: np.ndarray) -> sitk.Image:
    """An axis-aligned LPS cube (1 mm) around ``center_lps`` in the planning frame, for pictures."""
    n = int(round(2 * FIGURE_HALF_WIDTH_MM / FIGURE_SPACING_MM)) + 1
    grid = sitk.Image(n, n, n, sitk.sitkUInt8)
    grid.SetSpacing((FIGURE_SPACING_MM,) * 3)
    grid.SetOrigin(tuple(float(c) - FIGURE_HALF_WIDTH_MM for c in center_lps))
    return grid


def _on_grid(image: sitk.Image, grid: sitk.Image, transform: sitk.Transform | None, *, mask: bool = False) -> sitk.Image:
    interp = sitk.sitkNearestNeighbor if mask else sitk.sitkLinear
    tx = transform if transform is not None else sitk.Transform(3, sitk.sitkIdentity)
    pixel = sitk.sitkUInt8 if mask else sitk.sitkFloat32
    return sitk.Resample(sitk.Cast(image, pixel), grid, tx, interp, 0.0, pixel)


class _Figures:
    """Figures drawn once per distinct content: each is saved under the key of its inputs."""

    def __init__(self, ws: Workspace) -> None:
        self.ws = ws
        self.out: dict[str, bytes] = {}

    def add(self, name: str, parts: Any, draw: Callable[[], bytes]) -> None:
        key = self.ws.key("figure", name, parts)

        def save(png: bytes, folder: Path) -> None:
            (folder / "figure.png").write_bytes(png)

        self.out[name] = self.ws.cached("figure", key, draw, save, lambda f: (f / "figure.png").read_bytes()).value


def figures(
    ws: Workspace, case: CaseInputs, fusions: dict[str, Fusion], tracks: list[LesionTrack], analysis: Analysis
) -> dict[str, bytes]:
    """Every picture of the report (isodose overlays, registration checks, DVH, growth, evidence)."""
    from radnec.geometry import mask_centroid_lps
    from radnec.report import figures as F
    from radnec.report.html import figure_key

    figs = _Figures(ws)
    planning = case.planning
    by_name = {t.name: t for t in tracks}
    for lesion in analysis.lesions:
        name = lesion.name
        track = by_name[name]
        rx = float(track.target.prescription_gy)
        followups = [tp for tp in case.followups if tp.label in track.at]
        if followups:
            latest = followups[-1]
            comps = {tp.label: track.at[tp.label].compartments for tp in followups}
            base = [case.dose_key, planning.t1c, rx, name, [float(v) for v in track.seed_lps]]

            def frame(latest: Any = latest, comps: Any = comps) -> tuple[sitk.Image, list[float]]:
                mask_plan = _on_grid(comps[latest.label].value.lesion, planning.t1c_image, fusions[latest.label].transform, mask=True)
                try:
                    center = mask_centroid_lps(mask_plan)
                except RadnecError:  # the lesion maps outside the planning image: centre on the seed
                    center = track.seed_lps
                return _display_grid(np.asarray(center, float)), [float(c) for c in center]

            cache: dict[str, Any] = {}

            def shared() -> tuple[sitk.Image, list[float], sitk.Image, sitk.Image]:
                if not cache:
                    grid, center = frame()
                    cache["v"] = (grid, center, _on_grid(case.dose.image, grid, None), _on_grid(planning.t1c_image, grid, None))
                return cache["v"]

            by_label = {tp.label: tp for tp in followups}
            picks = [("views_latest", latest)]
            label = lesion.pattern_detail.get("origin_timepoint")
            if label in by_label and by_label[label] is not latest:
                picks.append(("views_earliest_enlarging", by_label[label]))
            for kind, tp in picks:
                tp_parts = [tp.label, tp.date, tp.t1c, comps[tp.label], fusions[tp.label].final or fusions[tp.label].rigid,
                            latest.label, comps[latest.label], fusions[latest.label].final or fusions[latest.label].rigid]

                def views(tp: Any = tp) -> bytes:
                    grid, center, dose, _ = shared()
                    t1c = _on_grid(tp.t1c_image, grid, fusions[tp.label].transform)
                    les = _on_grid(comps[tp.label].value.lesion, grid, fusions[tp.label].transform, mask=True)
                    return F.orthogonal_views(
                        t1c, dose=dose, prescription_gy=rx, lesion=les, center_lps=center,
                        title=f"{name}: {tp.label} ({tp.date}), on the planning frame",
                    )

                figs.add(figure_key(kind, lesion=name), [base, tp_parts], views)
                if kind == "views_latest":

                    def side(tp: Any = tp) -> bytes:
                        grid, center, dose, plan_t1c = shared()
                        t1c = _on_grid(tp.t1c_image, grid, fusions[tp.label].transform)
                        les = _on_grid(comps[tp.label].value.lesion, grid, fusions[tp.label].transform, mask=True)
                        return F.side_by_side(
                            plan_t1c, t1c, dose=dose, prescription_gy=rx, lesion=les, center_lps=center,
                            planning_label=f"Planning ({planning.date})", followup_label=f"{tp.label} ({tp.date})",
                        )

                    figs.add(figure_key("side_by_side", lesion=name), [base, tp_parts, planning.date], side)
            for tp in followups:
                if tp.date:

                    def reg(tp: Any = tp) -> bytes:
                        grid, center, _, plan_t1c = shared()
                        return F.registration_overlay(
                            plan_t1c, _on_grid(tp.t1c_image, grid, fusions[tp.label].transform), center_lps=center,
                            title=f"Registration check: {tp.label} ({tp.date}) on the planning T1c",
                        )

                    figs.add(
                        figure_key("registration", date=tp.date),
                        [base, tp.label, tp.date, tp.t1c, fusions[tp.label].final or fusions[tp.label].rigid,
                         latest.label, comps[latest.label], fusions[latest.label].final or fusions[latest.label].rigid],
                        reg,
                    )
        curve = (lesion.dose.details.get("dvh") if lesion.dose else None) or None
        if curve:
            figs.add(
                figure_key("dvh", lesion=name), [name, curve, rx],
                partial(F.dvh_plot, {name: (curve["dose_gy"], curve["volume_pct"])}, prescription_gy=rx),
            )
        if lesion.timepoints:
            figs.add(
                figure_key("growth", lesion=name), [name, lesion.timepoints],
                partial(F.growth_curve, lesion.timepoints, title=f"{name}: growth"),
            )
        ev = lesion.evidence
        if ev:
            parts = [ev.get("items", []), ev["prior_tp"], ev["posterior_tp"], ev.get("interval95")]
            figs.add(
                figure_key("evidence", lesion=name), parts,
                partial(
                    F.evidence_contributions, ev.get("items", []), prior_tp=ev["prior_tp"], posterior_tp=ev["posterior_tp"],
                    interval95=ev.get("interval95"),
                ),
            )
            voi = ev.get("value_of_information")
            if voi:
                figs.add(
                    figure_key("voi", lesion=name), [voi, ev["posterior_tp"]],
                    partial(F.value_of_information, voi, current_tp=ev["posterior_tp"]),
                )
    return figs.out


def write_analysis(analysis: Analysis, out: Path) -> Analysis:
    """Round the floats, write ``analysis.json`` (without the run block) atomically; return what was written."""
    from radnec.jsonio import dumps, round_floats

    rounded = Analysis.model_validate(round_floats(analysis.model_dump(mode="json")))
    write_text_atomic(out / "analysis.json", dumps(rounded.model_dump(mode="json", exclude={"run"})) + "\n")
    return rounded


def write_run(run: dict[str, Any], out: Path) -> None:
    """``run.json``: when, how long each stage took, which saved results were reused."""
    from radnec.jsonio import dumps

    write_text_atomic(out / "run.json", dumps(run) + "\n")


__all__ = ["figures", "provenance", "write_analysis", "write_run"]
