"""``radnec mrs``: Cho/Cr, Cho/NAA and lipid-lactate from a single-voxel spectroscopy file or typed in."""

from __future__ import annotations

from pathlib import Path

import typer

HELP = (
    "Single-voxel 1H MR spectroscopy: reads Siemens .rda, Siemens CSA .IMA and DICOM MR Spectroscopy files "
    "(FFT, simple phasing and baseline, peak areas at 3.2/3.0/2.0/1.3 ppm) and reports Cho/Cr, Cho/NAA and "
    "lipid-lactate; Philips SPAR/SDAT, GE P-files and multi-voxel CSI are rejected with the reason. Without a "
    "file, type the ratios in (--cho-cr, --cho-naa, --lipid-lactate-cr). Thresholds/accuracies are GLIOMA-derived "
    "and marked as such."
)


def command(
    file: Path | None = typer.Argument(None, help="Spectroscopy file (.rda, .IMA, DICOM MRS)."),
    cho_cr: float | None = typer.Option(None, "--cho-cr", help="Typed-in Cho/Cr ratio."),
    cho_naa: float | None = typer.Option(None, "--cho-naa", help="Typed-in Cho/NAA ratio."),
    lipid_lactate_cr: float | None = typer.Option(
        None, "--lipid-lactate-cr", help="Typed-in lipid-lactate (1.3 ppm) / creatine ratio."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Quantify (or record) MR spectroscopy ratios."""
    import warnings

    from radnec.jsonio import print_json
    from radnec.commands._output import stdout_console
    from radnec.errors import InputError
    from radnec.imaging.mrs import analyze_mrs_file, typed_mrs

    typed = any(v is not None for v in (cho_cr, cho_naa, lipid_lactate_cr))
    if file is None and not typed:
        raise InputError("give a spectroscopy FILE or typed-in values (--cho-cr, --cho-naa, --lipid-lactate-cr)")
    if file is not None and typed:
        raise InputError("give either a spectroscopy FILE or typed-in values, not both")
    if file is not None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # nibabel's "experimental DICOM reader" notice
            out = {"file": str(file), **analyze_mrs_file(file)}
    else:
        out = {"file": None, "observations": typed_mrs(cho_cr=cho_cr, cho_naa=cho_naa, lipid_lactate_cr=lipid_lactate_cr)}
    if as_json:
        print_json(out)
        return
    con = stdout_console()
    if file is not None:
        con.print(
            f"{file}: {out['format']}, {out['points']} points, TE {out['te_ms']} ms, "
            f"phase {out['zero_order_phase_deg']:.0f} deg, shift {out['shift_ppm']:+.2f} ppm"
        )
    for o in out["observations"]:
        note = f" ({o['note']})" if o["note"] else ""
        value = f"{o['value']:.2f}" if isinstance(o["value"], float) else str(o["value"])
        con.print(f"  {o['name']} = {value}{note}")
