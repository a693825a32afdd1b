"""A PACS-style flat export: thousands of header-only MR files with random names and no extension.

Written by byte templating (one pydicom file per series, fixed-width placeholders replaced per instance)
so that 3000 files take well under a second; used by ``test_case_folders.py`` and
``benchmarks/bench_scan.py``.
"""

from __future__ import annotations

import io
import random
from pathlib import Path

from pydicom.uid import generate_uid

from ingest_factory import make_slice

_SOP = "1.2.826.0.1.3680043.10.511.1111111111"
_SERIES = "1.2.826.0.1.3680043.10.511.2222222222"
_Z = 777.0  # written as '777.000000' by make_slice


def _template(study_uid: str, for_uid: str, description: str, number: int) -> bytes:
    ds = make_slice(
        (-8.0, -8.0, _Z), shape=(16, 16), series_uid=_SERIES, study_uid=study_uid, for_uid=for_uid, instance=1
    )
    ds.SOPInstanceUID = _SOP
    ds.file_meta.MediaStorageSOPInstanceUID = _SOP
    ds.SeriesDescription = description
    ds.SeriesNumber = number
    ds.MRAcquisitionType = "2D"
    buf = io.BytesIO()
    ds.save_as(buf, enforce_file_format=True)
    return buf.getvalue()


def write_flat_export(folder: Path, *, n_series: int = 30, n_slices: int = 100, seed: int = 0) -> list[Path]:
    """Write ``n_series × n_slices`` files with random 16-hex-digit names into ``folder`` (flat).

    Slice ``k`` of every series lies at z = ``k`` mm; every series is its own study date-less 2-D stack.
    """
    folder.mkdir(parents=True, exist_ok=True)
    study_uid, for_uid = generate_uid(), generate_uid()
    rng = random.Random(seed)  # deterministic random names
    paths = []
    for s in range(n_series):
        tpl = _template(study_uid, for_uid, f"series {s}", s + 1)
        series_uid = f"1.2.826.0.1.3680043.10.511.9{s:09d}"
        assert len(series_uid) == len(_SERIES)
        tpl = tpl.replace(_SERIES.encode(), series_uid.encode())
        for k in range(n_slices):
            sop = f"1.2.826.0.1.3680043.10.511.{s:03d}{k:07d}"
            data = tpl.replace(_SOP.encode(), sop.encode()).replace(b"777.000000", f"{k:010.6f}".encode())
            name = f"{rng.getrandbits(64):016x}"
            path = folder / name
            path.write_bytes(data)
            paths.append(path)
    return paths


__all__ = ["write_flat_export"]
