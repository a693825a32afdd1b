"""Lesion compartments → a DICOM Segmentation (highdicom) on a follow-up T1c series.

One BINARY segment per lesion and compartment (the whole T1c lesion, enhancing, necrotic core,
oedema; overlapping segments, as the whole lesion contains the enhancing part), each with its
label, SNOMED CT / NCI Thesaurus property codes, the algorithm identification (radnec and its
version) and a tracking identifier/UID that the SR measurements reference. The masks must be on
the source series' grid (they are: compartments are segmented on the follow-up T1c); the frames
follow the source slices one to one, so :func:`radnec.ingest.seg.read_seg` returns the same
masks voxel for voxel.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import SimpleITK as sitk
from pydicom.dataset import Dataset
from pydicom.sr.coding import Code
from pydicom.uid import generate_uid

from radnec import __version__
from radnec.errors import GeometryError
from radnec.export.inputs import SourceSeries
from radnec.geometry import same_grid
from radnec.lesion.labels import Compartments

#: Segment order and property codes of each compartment.
#: Category: SCT 49755003 "Morphologically Abnormal Structure" (DICOM CID 7150).
CATEGORY = Code("49755003", "SCT", "Morphologically Abnormal Structure")
PROPERTY_TYPES: dict[str, Code] = {
    "lesion": Code("52988006", "SCT", "Lesion"),
    "enhancing": Code("C113842", "NCIt", "Enhancing Lesion"),
    "necrotic": Code("6574001", "SCT", "Necrosis"),
    "edema": Code("79654002", "SCT", "Edema"),
}
#: radnec's classical segmentation: thresholds, region growing, morphology (DICOM CID 7162).
ALGORITHM_FAMILY = Code("123104", "DCM", "Morphological Operations")
BRAIN = Code("12738006", "SCT", "Brain")
COMPARTMENT_WORDS = {"lesion": "T1c lesion", "enhancing": "enhancing", "necrotic": "necrotic core", "edema": "oedema"}


@dataclass(frozen=True)
class SegmentInfo:
    """Where one lesion compartment went in the SEG (the SR references it)."""

    lesion: str
    compartment: str
    number: int
    label: str
    tracking_uid: str


def segment_label(lesion: str, compartment: str, timepoint: str) -> str:
    """SegmentLabel (LO, 64 characters): ``"L1 enhancing (follow-up 1)"``."""
    return f"{lesion} {COMPARTMENT_WORDS[compartment]} ({timepoint})"[:64]


def seg_dataset(
    *,
    source: SourceSeries,
    lesions: Mapping[str, Compartments],
    timepoint: str,
    series_number: int = 9903,
) -> tuple[Dataset, list[SegmentInfo]]:
    """A DICOM SEG of ``lesions`` (compartments on the grid of ``source``) and its segment list.

    Raises
    ------
    GeometryError
        A mask not on the source series' grid, or nothing to segment.
    """
    import highdicom as hd

    algorithm = hd.AlgorithmIdentificationSequence(name="radnec", family=ALGORITHM_FAMILY, version=__version__)
    frames: list[np.ndarray] = []
    descriptions = []
    infos: list[SegmentInfo] = []
    for lesion in sorted(lesions):
        comps = lesions[lesion]
        for compartment in ("lesion", "enhancing", "necrotic", "edema"):
            mask = getattr(comps, compartment)
            if mask is None:
                continue
            if not same_grid(mask, source.image):
                raise GeometryError(
                    f"lesion {lesion!r} {compartment} mask is not on the {timepoint} T1c grid; the SEG needs masks "
                    "segmented on the source series"
                )
            arr = sitk.GetArrayFromImage(mask) > 0
            if not arr.any():
                continue
            number = len(descriptions) + 1
            label = segment_label(lesion, compartment, timepoint)
            uid = generate_uid()
            descriptions.append(
                hd.seg.SegmentDescription(
                    segment_number=number,
                    segment_label=label,
                    segmented_property_category=CATEGORY,
                    segmented_property_type=PROPERTY_TYPES[compartment],
                    algorithm_type=hd.seg.SegmentAlgorithmTypeValues.SEMIAUTOMATIC,
                    algorithm_identification=algorithm,
                    tracking_uid=uid,
                    tracking_id=f"{lesion} {COMPARTMENT_WORDS[compartment]}"[:64],
                    anatomic_regions=[BRAIN],
                )
            )
            frames.append(arr)
            infos.append(SegmentInfo(lesion=lesion, compartment=compartment, number=number, label=label, tracking_uid=uid))
    if not frames:
        raise GeometryError(f"no non-empty lesion mask to export for {timepoint}")
    pixel_array = np.stack(frames, axis=-1).astype(np.uint8)  # (slices, rows, columns, segments)
    seg = hd.seg.Segmentation(
        source_images=source.datasets,
        pixel_array=pixel_array,
        segmentation_type=hd.seg.SegmentationTypeValues.BINARY,
        segment_descriptions=descriptions,
        series_instance_uid=generate_uid(),
        series_number=series_number,
        sop_instance_uid=generate_uid(),
        instance_number=1,
        manufacturer="radnec",
        manufacturer_model_name="radnec.export",
        software_versions=__version__,
        device_serial_number="0",
        content_description=f"radnec lesion compartments, {timepoint}"[:64],
        content_creator_name="radnec^",
        content_label="RADNEC_LESION",
        series_description=f"radnec lesions {timepoint} (research use)"[:64],
        omit_empty_frames=True,
    )
    return seg, infos


__all__ = ["SegmentInfo", "seg_dataset", "segment_label", "PROPERTY_TYPES", "CATEGORY"]
