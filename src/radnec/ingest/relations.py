"""Relations between the objects of an :class:`~radnec.ingest.records.Inventory`, and RT bundles.

Relations checked (and reported as :class:`~radnec.ingest.records.Relation` rows, with a warning
when the target is not in the scanned tree): RTDOSE → RTPLAN, RTDOSE → RTSTRUCT, RTPLAN →
RTSTRUCT, RTSTRUCT → image series, SEG → image series, REG/DREG → frames of reference; frames of
reference that disagree along a reference; which series share a frame of reference. A plan with
its doses, structure set and planning image series forms an :class:`~radnec.ingest.records.RTBundle`.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

from radnec.ingest.records import Inventory, ObjectInfo, Relation, RTBundle, SeriesInfo
from radnec.ingest.sopclass import IMAGE_KINDS


def relate(inv: Inventory) -> None:
    """Fill ``inv.relations``, add warnings for missing targets and disagreeing frames of reference,
    and set ``inv.rt_bundles``."""
    objects = {o.sop_instance_uid: o for s in inv.all_series() for o in s.objects}
    series_uids = {s.series_instance_uid: s for s in inv.all_series()}
    image_series = {s.series_instance_uid: s for s in inv.all_series() if s.kind in IMAGE_KINDS}
    known_fors = {s.frame_of_reference_uid for s in inv.all_series() if s.frame_of_reference_uid}

    def add(src: ObjectInfo, relation: str, target_kind: str, target_uid: str, found: bool) -> None:
        inv.relations.append(
            Relation(
                source_kind=src.kind,
                source_uid=src.sop_instance_uid,
                relation=relation,
                target_kind=target_kind,
                target_uid=target_uid,
                found=found,
            )
        )
        if not found:
            inv.warnings.append(
                f"{src.kind} {Path(src.path).name} references {target_kind} {target_uid}, which is not in "
                f"{inv.root}"
            )

    for obj in objects.values():
        if obj.kind == "RTDOSE":
            for uid in obj.referenced_sop_uids:
                tgt = objects.get(uid)
                add(obj, "dose of plan", "RTPLAN", uid, tgt is not None and tgt.kind == "RTPLAN")
            for uid in obj.details.get("referenced_structure_sets") or []:
                tgt = objects.get(uid)
                add(obj, "dose on structure set", "RTSTRUCT", uid, tgt is not None and tgt.kind == "RTSTRUCT")
            if not obj.referenced_sop_uids:
                inv.warnings.append(f"RTDOSE {Path(obj.path).name} references no RTPLAN")
        elif obj.kind == "RTPLAN":
            for uid in obj.referenced_sop_uids:
                tgt = objects.get(uid)
                add(obj, "plan on structure set", "RTSTRUCT", uid, tgt is not None and tgt.kind == "RTSTRUCT")
        elif obj.kind == "RTSTRUCT":
            for uid in obj.referenced_series_uids:
                add(obj, "contours drawn on", "SERIES", uid, uid in image_series)
            if not obj.referenced_series_uids:
                inv.warnings.append(f"RTSTRUCT {Path(obj.path).name} references no image series")
        elif obj.kind == "SEG":
            for uid in obj.referenced_series_uids:
                add(obj, "segments of", "SERIES", uid, uid in series_uids)
        elif obj.kind in ("REG", "DREG"):
            for uid in obj.referenced_frame_of_reference_uids:
                add(obj, "registers frame", "FRAME_OF_REFERENCE", uid, uid in known_fors)

    # frame-of-reference agreement along references
    for rel in inv.relations:
        if not rel.found or rel.target_kind not in ("RTPLAN", "RTSTRUCT", "SERIES"):
            continue
        src = objects[rel.source_uid]
        tgt_for = (
            objects[rel.target_uid].frame_of_reference_uid
            if rel.target_kind != "SERIES"
            else series_uids[rel.target_uid].frame_of_reference_uid
        )
        if src.frame_of_reference_uid and tgt_for and src.frame_of_reference_uid != tgt_for:
            inv.warnings.append(
                f"{src.kind} {Path(src.path).name} and the {rel.target_kind} it references are in different "
                f"frames of reference ({src.frame_of_reference_uid} vs {tgt_for})"
            )

    # series that share a frame of reference
    by_for: dict[str, list[SeriesInfo]] = defaultdict(list)
    for s in inv.all_series():
        if s.frame_of_reference_uid:
            by_for[s.frame_of_reference_uid].append(s)
    for fo_r, members in by_for.items():
        if len(members) > 1:
            first = members[0]
            for other in members[1:]:
                inv.relations.append(
                    Relation(
                        source_kind=other.kind,
                        source_uid=other.series_instance_uid,
                        relation="shares frame of reference with",
                        target_kind=first.kind,
                        target_uid=first.series_instance_uid,
                        found=True,
                    )
                )
    inv.rt_bundles = _bundles(objects, image_series)


def _bundles(objects: dict[str, ObjectInfo], image_series: dict[str, SeriesInfo]) -> list[RTBundle]:
    plans = [o for o in objects.values() if o.kind == "RTPLAN"]
    doses = [o for o in objects.values() if o.kind == "RTDOSE"]
    bundles: list[RTBundle] = []
    for plan in plans:
        b = RTBundle(rtplan_uid=plan.sop_instance_uid, frame_of_reference_uid=plan.frame_of_reference_uid)
        b.rtdose_uids = [d.sop_instance_uid for d in doses if plan.sop_instance_uid in d.referenced_sop_uids]
        if not b.rtdose_uids:
            b.problems.append("no RTDOSE references this plan")
        struct = next(
            (objects[u] for u in plan.referenced_sop_uids if u in objects and objects[u].kind == "RTSTRUCT"), None
        )
        if struct is None:
            b.problems.append(
                "the referenced RTSTRUCT is missing" if plan.referenced_sop_uids else "the plan references no RTSTRUCT"
            )
        else:
            b.rtstruct_uid = struct.sop_instance_uid
            present = [u for u in struct.referenced_series_uids if u in image_series]
            b.image_series_uid = present[0] if present else None
        fors = {plan.frame_of_reference_uid}
        fors |= {objects[u].frame_of_reference_uid for u in b.rtdose_uids}
        if struct is not None:
            fors.add(struct.frame_of_reference_uid)
        if b.image_series_uid:
            fors.add(image_series[b.image_series_uid].frame_of_reference_uid)
        fors.discard(None)
        if len(fors) > 1:
            b.problems.append(f"the objects are in {len(fors)} different frames of reference")
        elif fors:
            b.frame_of_reference_uid = next(iter(fors))
        b.consistent = bool(b.rtdose_uids) and struct is not None and len(fors) <= 1
        bundles.append(b)
    for dose in doses:
        if not any(dose.sop_instance_uid in b.rtdose_uids for b in bundles):
            bundles.append(
                RTBundle(
                    rtplan_uid=None,
                    rtdose_uids=[dose.sop_instance_uid],
                    frame_of_reference_uid=dose.frame_of_reference_uid,
                    problems=["the RTDOSE's plan is not in the folder"],
                )
            )
    return bundles



__all__ = ["relate"]
