"""Re-create the vendored, cropped MNI152 2009a template files in this folder.

Run once by a developer (not at install time)::

    python src/radnec/phantom/data/vendor_mni.py /path/to/nilearn-mni152

It crops the nilearn copies of the MNI ICBM152 2009a nonlinear symmetric T1 template and
grey/white-matter probability maps to the brain bounding box (+2 voxels) and writes them as
gzip NIfTI (uint8, RAS affine kept, so SimpleITK reads them in LPS). Grey/white-matter maps
are quantised to 64 levels (step 8/255 ≈ 3 % probability) and the T1 to 85 levels to keep the package small.
"""

from __future__ import annotations

import sys
from pathlib import Path

import nibabel as nib
import numpy as np

NAMES = {
    "t1": "mni_icbm152_t1_tal_nlin_sym_09a_converted.nii.gz",
    "gm": "mni_icbm152_gm_tal_nlin_sym_09a_converted.nii.gz",
    "wm": "mni_icbm152_wm_tal_nlin_sym_09a_converted.nii.gz",
}
MARGIN_VOXELS = 2
PROBABILITY_STEP = 8
T1_STEP = 3


def main(src: Path, dst: Path) -> None:
    imgs = {k: nib.load(str(src / v)) for k, v in NAMES.items()}
    stack = np.stack([np.asarray(i.dataobj) for i in imgs.values()])
    nz = np.argwhere(stack.max(0) > 0)
    lo = np.maximum(nz.min(0) - MARGIN_VOXELS, 0)
    hi = np.minimum(nz.max(0) + MARGIN_VOXELS + 1, stack.shape[1:])
    for key, img in imgs.items():
        arr = np.asarray(img.dataobj)[lo[0] : hi[0], lo[1] : hi[1], lo[2] : hi[2]].astype(np.uint8)
        step = T1_STEP if key == "t1" else PROBABILITY_STEP
        arr = (np.round(arr / step) * step).clip(0, 255).astype(np.uint8)
        affine = img.affine.copy()
        affine[:3, 3] = img.affine[:3, :3] @ lo + img.affine[:3, 3]
        out = nib.Nifti1Image(arr, affine)
        out.header.set_data_dtype(np.uint8)
        out.header.set_xyzt_units("mm")
        nib.save(out, str(dst / f"mni152_2009a_{key}.nii.gz"))


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(__file__).resolve().parent)
