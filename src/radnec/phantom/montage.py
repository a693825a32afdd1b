"""PNG montage of a phantom case: per time point the axial T1c and FLAIR slice through the index
lesion, with the planned isodose lines (50 %, 80 %, 100 % of Rx) and the truth contours.

Follow-up isodoses are drawn by mapping the planning dose into the follow-up frame with the
inverse of the truth transform (resampling the dose through ``T^-1`` is equivalent to
``sitk.Resample(dose, followup_grid, T^-1)``; here we resample with the exact inverse that the
generator used)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import SimpleITK as sitk

from radnec.phantom.dicom_write import SEQUENCES
from radnec.phantom.model import PhantomCase, Study
from radnec.phantom.resampling import planning_indices_of, sample_linear

ISODOSE_PCT = (50, 80, 100)
ISODOSE_COLOURS = ("#4da6ff", "#ffd11a", "#ff3333")


def _dose_in_study(case: PhantomCase, st: Study) -> np.ndarray:
    if st.transform is None:
        return case.dose_on_planning
    coords = planning_indices_of(st.grid, case.anatomy.grid, st.rigid, st.mass)
    return sample_linear(case.dose_on_planning, coords, 0.0).reshape(st.grid.GetSize()[::-1])


def save_montage(case: PhantomCase, path: Path) -> Path:
    """Save a 2-row (T1c, FLAIR) × n-time-point montage as PNG; return the path."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = len(case.studies)
    fig, axes = plt.subplots(2, n, figsize=(3.2 * n, 6.6), facecolor="black")
    axes = np.atleast_2d(axes).reshape(2, n)
    j = sorted(case.lesion_names).index(case.index_lesion) + 1
    for c, st in enumerate(case.studies):
        labels = sitk.GetArrayViewFromImage(st.masks["lesion_labels"])
        comp = labels == j
        if not comp.any():
            comp = labels > 0
        k = int(np.round(np.argwhere(comp).mean(0)[0])) if comp.any() else labels.shape[0] // 2
        dose = _dose_in_study(case, st)
        for r, seq in enumerate(("T1c", "FLAIR")):
            ax = axes[r, c]
            img = sitk.GetArrayViewFromImage(st.images[seq])[k]
            centre, width = SEQUENCES[seq]["window"]
            ax.imshow(img, cmap="gray", vmin=centre - width / 2, vmax=centre + width / 2, origin="upper")
            for pct, col in zip(ISODOSE_PCT, ISODOSE_COLOURS):
                lvl = case.prescription_gy * pct / 100.0
                if dose[k].max() > lvl:
                    ax.contour(dose[k], levels=[lvl], colors=col, linewidths=0.6, alpha=0.8)
            ax.set_xticks([]); ax.set_yticks([])
            title = f"{st.label} ({st.days_since_srs:+d} d) {seq}"
            ax.set_title(title, color="white", fontsize=8)
    fig.suptitle(f"radnec phantom: {case.scenario}, seed {case.seed} — isodoses 50/80/100 % of "
                 f"{case.prescription_gy:g} Gy (blue/yellow/red). Synthetic, not patient data.",
                 color="white", fontsize=9)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110, facecolor="black")
    plt.close(fig)
    return path
