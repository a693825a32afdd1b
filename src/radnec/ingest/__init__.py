"""radnec.ingest: from files a clinic exports to geometry-checked SimpleITK images and masks.

- :func:`scan` — a folder tree of mixed files → :class:`Inventory` (headers only, every skipped
  file listed with its reason, relations between plan, dose, structures and images).
- :func:`load_series` / :func:`read_series` — DICOM CT/MR/PET series (classic or enhanced
  multi-frame) → ``SimpleITK.Image`` in LPS mm, refusing what cannot be represented faithfully.
- :func:`read_volume` / :func:`read_label_map` — NIfTI/NRRD → image / masks (LPS).
- :func:`read_image` / :func:`load_image` — a path a user gives (DICOM series folder or file, or a
  NIfTI/NRRD volume) → one 3-D image (LPS), through the readers above.
- :func:`read_seg` — DICOM SEG → one mask per segment.
- :func:`read_dsc` — a 4-D DSC perfusion series (NIfTI 4-D or a dynamic DICOM MR series).
- RT objects (``rtdose``, ``rtstruct``, ``rtplan``) and registrations (``reg``) have their own
  modules.

Attributes are imported lazily so that ``import radnec.ingest.rtdose`` stays cheap.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "scan": "radnec.ingest.scan",
    "Inventory": "radnec.ingest.records",
    "SeriesInfo": "radnec.ingest.records",
    "read_header": "radnec.ingest.headers",
    "load_series": "radnec.ingest.series",
    "read_series": "radnec.ingest.series",
    "split_series": "radnec.ingest.series",
    "ImageSeries": "radnec.ingest.series",
    "SeriesMetadata": "radnec.ingest.series",
    "read_image": "radnec.ingest.image",
    "load_image": "radnec.ingest.image",
    "LoadedImage": "radnec.ingest.image",
    "read_volume": "radnec.ingest.nifti",
    "read_label_map": "radnec.ingest.nifti",
    "read_seg": "radnec.ingest.seg",
    "Segment": "radnec.ingest.seg",
    "read_dsc": "radnec.ingest.dsc",
    "DscSeries": "radnec.ingest.dsc",
}


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'radnec.ingest' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


__all__ = sorted(_EXPORTS)
