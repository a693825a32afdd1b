"""``radnec inspect PATH``: what is in a folder of clinical exports, and how it fits together."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

HELP = (
    "List what a folder (or file) holds: patients, studies, frames of reference, image series "
    "(CT/MR/PET, enhanced MR, dynamic MR such as DSC perfusion read as 4-D), RTPLAN/RTDOSE/RTSTRUCT, SEG, REG, MR spectroscopy, NIfTI/NRRD; how "
    "they relate (which dose belongs to which plan and structure set, which series share a frame "
    "of reference); every skipped file with its reason; and warnings. Every object is read fully "
    "(geometry checks, dose maximum, ROIs, prescription) unless --headers-only. Exit code 2 when "
    "an object cannot be read faithfully (or, with --strict, on any warning or skipped file)."
)


#: Version of the ``radnec inspect --json`` document; bump on breaking changes.
INSPECT_SCHEMA_VERSION = 1


def _short(uid: str | None, n: int = 10) -> str:
    if not uid:
        return "-"
    return uid if len(uid) <= n else "…" + uid[-n:]


def _object_summary(kind: str, d: dict[str, Any]) -> str:
    if kind == "RTDOSE":
        parts = [f"units {d.get('dose_units')}", f"sum {d.get('dose_summation_type')}"]
        if d.get("max_dose_gy") is not None:
            parts.append(f"max {d['max_dose_gy']:.2f} Gy")
        return ", ".join(parts)
    if kind == "RTPLAN":
        rx = d.get("prescription_gy", d.get("target_prescription_dose_gy"))
        parts = []
        if rx is not None:
            parts.append(f"Rx {float(rx):g} Gy")
        targets = d.get("target_prescriptions_gy") or {}
        if len(set(targets.values())) > 1:
            parts.append("targets " + ", ".join(f"ROI {k} {float(v):g} Gy" for k, v in targets.items()))
        if d.get("fractions") is not None:
            parts.append(f"{d['fractions']} fx")
        if d.get("technique"):
            parts.append(str(d["technique"]))
        parts.append(f"{d.get('n_beams', 0)} beams")
        return ", ".join(parts)
    if kind == "RTSTRUCT":
        names = [r["name"] for r in d.get("rois", [])] or d.get("roi_names", [])
        text = f"{d.get('n_rois', len(names))} ROIs"
        if names:
            text += ": " + ", ".join(names[:6]) + (", …" if len(names) > 6 else "")
        return text
    if kind == "SEG":
        segs = d.get("segments")
        if segs:
            return ", ".join(f"{s['label']} {s['volume_cc']:.2f} cm³" for s in segs)
        return ", ".join(d.get("segment_labels", []))
    if kind == "MRS":
        return f"{d.get('data_points') or '?'} points" + (" (Siemens CSA)" if d.get("siemens_csa") else "")
    if kind in ("REG", "DREG"):
        return f"{len(d)} facts"
    return ""


def _dynamic_summary(series: Any) -> str:
    """'dynamic: 60 time points (TemporalPositionIdentifier), Δt 1.5 s, TE 30 ms' for a multi-temporal series."""
    if not getattr(series, "dynamic", False):
        return ""
    g = series.geometry or {}
    n = g.get("n_timepoints", series.n_timepoints)
    text = f"dynamic: {n} time points" + (f" ({series.temporal_key})" if series.temporal_key else "")
    if g.get("frame_interval_s") is not None:
        text += f", Δt {g['frame_interval_s']:g} s"
    if g.get("echo_time_ms") is not None:
        text += f", TE {g['echo_time_ms']:g} ms"
    if g.get("note"):
        text += f"; {g['note']}"
    return text


def _print_tables(result: Any) -> None:
    from rich.table import Table

    from radnec.commands._output import stdout_console

    console = stdout_console()
    if not console.is_terminal:
        console.width = 160  # files and pipes: do not wrap every UID into a column of fragments
    inv = result.inventory
    n_series = len(inv.all_series())
    console.print(
        f"[bold]{inv.root}[/bold]: {inv.n_files} files, {len(inv.patients)} patient(s), {n_series} series/objects, "
        f"{len(inv.volumes)} NIfTI/NRRD, {len(inv.spectroscopy_files)} spectroscopy file(s), {len(inv.skipped)} skipped"
    )
    if n_series:
        table = Table(title="DICOM series and objects", show_lines=False)
        for col in ("patient", "study date", "frame of ref.", "kind", "description", "files/frames", "grid", "details"):
            table.add_column(col)
        for p in inv.patients:
            for st in p.studies:
                for fo_r in st.frames_of_reference:
                    for s in fo_r.series:
                        grid = ""
                        if s.geometry:
                            g = s.geometry
                            grid = (
                                "x".join(str(v) for v in g["size"])
                                + " @ "
                                + "x".join(f"{v:g}" for v in g["spacing_mm"])
                                + f" mm, {g['orientation']}"
                            )
                            if g.get("n_timepoints"):
                                grid += f" x {g['n_timepoints']} t"
                        details = "; ".join(
                            _object_summary(s.kind, o.details) for o in s.objects
                        ) or (s.objects[0].label if s.objects else "") or _dynamic_summary(s)
                        if s.objects and s.objects[0].details.get("grid") and not grid:
                            g = s.objects[0].details["grid"]
                            grid = "x".join(str(v) for v in g["size"]) + " @ " + "x".join(
                                f"{v:g}" for v in g["spacing_mm"]
                            ) + " mm"
                        label = s.description or (s.objects[0].label if s.objects else None) or ""
                        table.add_row(
                            p.label,
                            st.study_date or "-",
                            _short(fo_r.uid),
                            s.kind,
                            label,
                            f"{s.n_instances}/{s.n_frames}",
                            grid,
                            details,
                        )
        console.print(table)
    for obj in inv.objects_of_kind("RTSTRUCT"):
        rois = obj.details.get("rois")
        if not rois:
            continue
        table = Table(title=f"ROIs of {Path(obj.path).name} (volume from the contours, cm³)")
        for col in ("#", "name", "type", "contours", "volume (cm³)"):
            table.add_column(col, justify="right" if col in ("#", "contours", "volume (cm³)") else "left")
        for r in rois:
            vol = r.get("volume_cc")
            table.add_row(
                str(r["number"]), r["name"], str(r.get("type") or ""), str(r["n_contours"]),
                "-" if vol is None else f"{vol:.4g}",
            )
        console.print(table)
    if inv.volumes:
        table = Table(title="NIfTI / NRRD volumes (LPS)")
        for col in ("file", "format", "size", "spacing (mm)", "pixel type"):
            table.add_column(col)
        for v in inv.volumes:
            table.add_row(
                Path(v.path).name, v.format, "x".join(map(str, v.size)), "x".join(f"{s:g}" for s in v.spacing_mm), v.pixel_type
            )
        console.print(table)
    if inv.spectroscopy_files:
        table = Table(title="Spectroscopy files")
        table.add_column("file")
        table.add_column("format")
        table.add_column("details")
        for f in inv.spectroscopy_files:
            table.add_row(Path(f.path).name, f.format, ", ".join(f"{k}={v}" for k, v in f.details.items()))
        console.print(table)
    if inv.relations:
        table = Table(title="Relations")
        for col in ("source", "relation", "target", "found"):
            table.add_column(col)
        for r in inv.relations:
            table.add_row(
                f"{r.source_kind} {_short(r.source_uid)}",
                r.relation,
                f"{r.target_kind} {_short(r.target_uid)}",
                "yes" if r.found else "[red]MISSING[/red]",
            )
        console.print(table)
    for b in inv.rt_bundles:
        state = "[green]belong together[/green]" if b.consistent else "[red]incomplete[/red]"
        console.print(
            f"RT bundle: plan {_short(b.rtplan_uid)}, dose(s) {', '.join(_short(u) for u in b.rtdose_uids) or '-'}, "
            f"structures {_short(b.rtstruct_uid)}, image series {_short(b.image_series_uid)}: {state}"
            + (f" ({'; '.join(b.problems)})" if b.problems else "")
        )
    if inv.skipped:
        table = Table(title="Skipped files")
        table.add_column("file")
        table.add_column("reason")
        for s in inv.skipped:
            table.add_row(s.path, s.reason)
        console.print(table)
    for w in inv.warnings:
        console.print(f"[yellow]warning:[/yellow] {w}")
    for p in result.problems:
        console.print(f"[red]problem:[/red] {p.path}: {p.message}")


def command(
    path: Annotated[Path, typer.Argument(help="Folder (searched recursively) or single file.")],
    json_output: Annotated[bool, typer.Option("--json", help="Write the inventory as JSON to stdout.")] = False,
    recursive: Annotated[bool, typer.Option("--recursive/--no-recursive", help="Descend into sub-folders.")] = True,
    headers_only: Annotated[
        bool, typer.Option("--headers-only", help="Only read headers (fast; no pixel data, no geometry checks).")
    ] = False,
    strict: Annotated[
        bool, typer.Option("--strict", help="Exit 2 also on warnings (broken references) and skipped files.")
    ] = False,
) -> None:
    """Inspect a folder of DICOM/NIfTI exports."""
    import logging

    from radnec import __version__, errors
    from radnec.jsonio import print_json
    from radnec.ingest.inventory import inspect_tree

    import pydicom  # noqa: F401 - imported first: pydicom.config resets its logger level on import

    if not logging.getLogger().isEnabledFor(logging.INFO):
        # pydicom logs every non-conformant value at WARNING; inspect reports real problems itself
        logging.getLogger("pydicom").setLevel(logging.ERROR)

    result = inspect_tree(path, recursive=recursive, headers_only=headers_only)
    if json_output:
        print_json(
            {
                "schema": "radnec-inspect",
                "schema_version": INSPECT_SCHEMA_VERSION,
                "radnec_version": __version__,
                "root": result.inventory.root,
                "inventory": result.inventory,
                "problems": result.problems,
                "readers_available": result.readers,
            }
        )
    else:
        _print_tables(result)

    problems = list(result.problems)
    if problems:
        first = problems[0]
        cls = getattr(errors, first.error, errors.InputError)
        if not (isinstance(cls, type) and issubclass(cls, errors.RadnecError)):
            cls = errors.InputError
        more = f" (and {len(problems) - 1} more problem(s); see the listing)" if len(problems) > 1 else ""
        raise cls(first.message + more, path=first.path)
    inv = result.inventory
    if strict and (inv.warnings or inv.skipped):
        if inv.warnings:
            raise errors.MissingReferenceError(
                inv.warnings[0] + (f" (and {len(inv.warnings) - 1} more warning(s))" if len(inv.warnings) > 1 else ""),
                path=inv.root,
            )
        first_skip = inv.skipped[0]
        raise errors.InputError(first_skip.reason, path=first_skip.path)
    if not inv.all_series() and not inv.volumes and not inv.spectroscopy_files:
        raise errors.InputError(
            f"nothing radnec can use was found ({inv.n_files} file(s), {len(inv.skipped)} skipped)", path=inv.root
        )
