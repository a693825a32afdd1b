"""Lesion label conventions and the compartment masks every lesion source produces.

A lesion is described by three compartments on one image grid (sitkUInt8 0/1 masks):

``enhancing``
    contrast-enhancing tumour on T1c (rim or nodule);
``necrotic``
    the non-enhancing / necrotic / cystic core enclosed by the enhancement;
``edema``
    the peritumoral FLAIR/T2 hyperintensity outside the T1c lesion.

``lesion`` (the whole T1c lesion, enhancing ∪ necrotic) is always present. Some label maps
(AURORA, single-label masks) do not separate enhancing from necrotic; then ``enhancing`` and
``necrotic`` are ``None`` until :func:`radnec.lesion.labels.split_lesion_by_enhancement` estimates
the split from T1c intensity.

Which label means what is declared by a *label convention* (``conventions.yaml``:
``brats-2021`` 1/2/4, ``brats-mets`` 1/2/3, ``aurora`` 1/2, ``binary``) or by a custom
specification such as ``"enhancing=4,necrotic=1,edema=2"``. ``conventions.yaml`` also holds the
RANO-BM, morphology and segmentation rules (:func:`load_conventions_file`).

This module is the bottom of :mod:`radnec.lesion`: the readers (``labels``), the semi-automatic
segmentation (``segment``) and the measurements (``morphology``) all build on it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np
import SimpleITK as sitk

from radnec.errors import InputError

COMPARTMENTS = ("enhancing", "necrotic", "edema", "lesion")


@lru_cache(maxsize=1)
def load_conventions_file() -> dict[str, Any]:
    """The parsed ``conventions.yaml`` (label conventions, RANO-BM rules, morphology rules)."""
    from radnec.datafiles import load_yaml

    return load_yaml("radnec.lesion", "conventions.yaml")


@dataclass(frozen=True)
class LabelConvention:
    """Which integer labels form which compartment.

    ``lesion`` labels belong to the T1c lesion without an enhancing/necrotic split. The string
    ``"nonzero"`` (only for ``lesion``) means every non-zero label.
    """

    name: str
    enhancing: tuple[int, ...] = ()
    necrotic: tuple[int, ...] = ()
    edema: tuple[int, ...] = ()
    lesion: tuple[int, ...] | str = ()
    description: str = ""
    citation: str = ""

    @property
    def separates_core(self) -> bool:
        """True when the convention distinguishes enhancing from necrotic labels."""
        return bool(self.enhancing) and not self.lesion


def available_conventions() -> dict[str, LabelConvention]:
    """The named label conventions of ``conventions.yaml``."""
    out: dict[str, LabelConvention] = {}
    for name, entry in load_conventions_file()["label_conventions"].items():
        lesion = entry.get("lesion") or ()
        out[name] = LabelConvention(
            name=name,
            enhancing=tuple(entry.get("enhancing") or ()),
            necrotic=tuple(entry.get("necrotic") or ()),
            edema=tuple(entry.get("edema") or ()),
            lesion=lesion if isinstance(lesion, str) else tuple(lesion),
            description=entry.get("description", ""),
            citation=entry.get("citation", ""),
        )
    return out


def parse_convention(spec: str) -> LabelConvention:
    """A named convention (``brats-2021``, ``brats-mets``, ``aurora``, ``binary``) or a custom one.

    Custom syntax: ``"enhancing=4,necrotic=1,edema=2"``; several labels with ``+``
    (``"lesion=1+3,edema=2"``). Keys: enhancing, necrotic, edema, lesion.
    """
    spec = spec.strip()
    named = available_conventions()
    if spec in named:
        return named[spec]
    if "=" not in spec:
        raise InputError(
            f"unknown label convention {spec!r}; use one of {', '.join(sorted(named))} or a custom "
            "mapping such as 'enhancing=4,necrotic=1,edema=2'"
        )
    parts: dict[str, tuple[int, ...]] = {}
    for item in spec.split(","):
        if not item.strip():
            continue
        key, _, values = item.partition("=")
        key = key.strip().lower()
        if key not in COMPARTMENTS:
            raise InputError(f"label convention {spec!r}: unknown compartment {key!r} (use {', '.join(COMPARTMENTS)})")
        try:
            labels = tuple(int(v) for v in values.replace(" ", "").split("+") if v)
        except ValueError as exc:
            raise InputError(f"label convention {spec!r}: labels of {key!r} must be integers") from exc
        if not labels or any(v <= 0 for v in labels):
            raise InputError(f"label convention {spec!r}: {key!r} needs positive integer labels")
        parts[key] = labels
    used = [v for labels in parts.values() for v in labels]
    if len(used) != len(set(used)):
        raise InputError(f"label convention {spec!r}: a label is assigned to two compartments")
    if not (parts.get("enhancing") or parts.get("lesion")):
        raise InputError(f"label convention {spec!r}: declare at least 'enhancing' or 'lesion' labels")
    return LabelConvention(name="custom:" + spec, **parts)


@dataclass
class Compartments:
    """Lesion compartments on one grid. Masks are sitkUInt8 0/1 images.

    ``lesion`` = enhancing ∪ necrotic (the T1c lesion). ``enhancing``/``necrotic`` are ``None``
    when the source does not separate them; ``edema`` is ``None`` when not segmented.
    """

    lesion: sitk.Image
    enhancing: sitk.Image | None = None
    necrotic: sitk.Image | None = None
    edema: sitk.Image | None = None
    source: str = ""
    notes: list[str] = field(default_factory=list)

    def masks(self) -> dict[str, sitk.Image]:
        """The non-``None`` masks by compartment name."""
        return {k: getattr(self, k) for k in COMPARTMENTS if getattr(self, k) is not None}


def mask_image(arr: np.ndarray, reference: sitk.Image) -> sitk.Image:
    """A boolean/0-1 array (z, y, x) as a sitkUInt8 mask with ``reference``'s geometry."""
    img = sitk.GetImageFromArray(arr.astype(np.uint8))
    img.CopyInformation(reference)
    return img


__all__ = [
    "COMPARTMENTS",
    "LabelConvention",
    "Compartments",
    "available_conventions",
    "parse_convention",
    "load_conventions_file",
    "mask_image",
]
