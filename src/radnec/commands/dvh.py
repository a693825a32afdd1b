"""``radnec dvh``: dose-volume histograms of RTSTRUCT ROIs in an RTDOSE grid."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

HELP = (
    "Dose-volume histograms of the ROIs of an RTSTRUCT (--struct) in an RTDOSE (--dose): volume (cm³), "
    "Dmin/Dmean/Dmax, D99/D95/D50/D5/D1 and D0.03cc (Gy), the part outside the dose grid, and the planning "
    "system's own DVH from the RTDOSE for comparison (converted to Gy; give --plan or --rx when the TPS wrote "
    "percent of prescription). Structures are sampled finely in their own geometry (half-slice end-caps, "
    "even-odd holes) and the dose is interpolated trilinearly; --no-end-cap stops volumes at the extreme "
    "contours (what some planning systems do). Select ROIs with --roi (repeatable, case-insensitive)."
)


def command(
    dose: Path = typer.Option(..., "--dose", help="RTDOSE file"),
    struct: Path = typer.Option(..., "--struct", help="RTSTRUCT file (same frame of reference)"),
    roi: Optional[list[str]] = typer.Option(None, "--roi", help="ROI name (repeatable); default: every ROI with contours"),
    plan: Optional[Path] = typer.Option(None, "--plan", help="RTPLAN (prescription for relative metrics and TPS DVH units)"),
    rx: Optional[float] = typer.Option(None, "--rx", help="prescription dose in Gy (overrides the plan)"),
    supersample: int = typer.Option(4, "--supersample", min=1, max=16, help="structure sampling pitch = smallest dose spacing / this"),
    no_end_cap: bool = typer.Option(False, "--no-end-cap", help="no half-slice extension beyond the extreme contours"),
    interpolation: str = typer.Option(
        "morph", "--interpolation",
        help="between contour planes: morph (blend both shapes; area spline of A or A² chosen by cross-validation), "
        "shape (signed-distance shape-based interpolation) or spline (radnec 0.1: A spline)",
    ),
    cumulative: bool = typer.Option(False, "--curve", help="include the cumulative DVH curve (0.1 Gy steps) in --json"),
    allow_other_frame: bool = typer.Option(False, "--allow-other-frame", help="accept RTDOSE and RTSTRUCT in different frames of reference"),
    as_json: bool = typer.Option(False, "--json", help="print JSON"),
) -> None:
    """Compute DVHs of RTSTRUCT ROIs in an RTDOSE."""
    from radnec import DISCLAIMER
    from radnec.commands._output import stdout_console
    from radnec.dose.interpolation import PlaneInterpolation
    from radnec.dose.table import dvh_rows, require_same_frame, select_rois
    from radnec.errors import InputError
    from radnec.ingest.rtdose import read_rtdose
    from radnec.ingest.rtplan import read_rtplan
    from radnec.ingest.rtstruct import read_rtstruct
    from radnec.jsonio import print_json

    try:
        mode = PlaneInterpolation(interpolation)
    except ValueError:
        raise InputError(f"--interpolation must be {PlaneInterpolation.choices_text()}, got {interpolation!r}") from None
    rtplan = read_rtplan(plan) if plan is not None else None
    rx_gy = rx if rx is not None else (rtplan.prescription_gy if rtplan is not None else None)
    rd = read_rtdose(dose, prescription_gy=rx_gy)
    ss = read_rtstruct(struct)
    require_same_frame(rd.frame_of_reference_uid, ss.frame_of_reference_uid, allow_other_frame=allow_other_frame, path=struct)
    rows = dvh_rows(
        rd, select_rois(ss, roi, path=struct), plan=rtplan, override_gy=rx, supersample=supersample,
        end_cap=not no_end_cap, interpolation=mode, cumulative=cumulative,
        fail_on_geometry_error=bool(roi),  # explicitly requested ROIs fail loudly
        path=struct,
    )
    result = {
        "dose": {"file": dose.name, "max_gy": rd.max_gy, "notes": rd.notes},
        "prescription_gy": rx_gy,
        "end_cap": not no_end_cap,
        "interpolation": mode.value,
        "rois": rows,
        "disclaimer": DISCLAIMER,
    }
    if as_json:
        print_json(result)
        return
    from rich.table import Table

    table = Table(title=f"DVH — {dose.name} (max {rd.max_gy:.3f} Gy)" + (f", Rx {rx_gy:g} Gy" if rx_gy else ""))
    for col in ("ROI", "vol cc", "Dmin", "Dmean", "Dmax", "D95", "D0.03cc", "outside", "TPS vol", "TPS mean"):
        table.add_column(col, justify="left" if col == "ROI" else "right", no_wrap=col == "ROI")
    for e in rows:
        if "error" in e:
            table.add_row(e["name"], "—", "", "", "", "", "", "", "", e["error"][:40])
            continue

        def f(v, fmt="{:.3f}"):
            return "" if v is None else fmt.format(v)

        t = e.get("tps", {})
        table.add_row(
            e["name"], f(e["volume_cc"]), f(e.get("dmin_gy")), f(e.get("dmean_gy")), f(e.get("dmax_gy")),
            f(e.get("d95_gy")), f(e.get("d0_03cc_gy")), f(100 * e["outside_fraction"], "{:.1f} %"),
            f(t.get("volume_cc")), f(t.get("dmean_gy")),
        )
    con = stdout_console()
    if not con.is_terminal:
        con.width = max(con.width, 120)  # files and pipes get the full table
    con.print(table)
    for n in rd.notes:
        con.print(f"note: {n}")
    con.print(f"[dim]{DISCLAIMER}[/dim]")
