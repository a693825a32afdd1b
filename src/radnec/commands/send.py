"""``radnec send``: C-STORE files (e.g. radnec's exports) to a PACS, TPS or `radnec listen`."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

HELP = (
    "Send DICOM files and folders (searched recursively) to --to AET@host:port with C-STORE, each file as "
    "encoded on disk. Every object the peer refuses is named on stderr with the DIMSE status; the exit code "
    "is 2 when any object was not stored. --stow URL sends over DICOMweb (STOW-RS) instead (needs "
    "dicomweb-client: pip install 'radnec[dicomweb]')."
)


def command(
    paths: list[Path] = typer.Argument(..., help="DICOM files or folders."),
    to: Optional[str] = typer.Option(None, "--to", help="The peer as AET@host:port, e.g. PACS@10.0.0.5:104."),
    stow_url: Optional[str] = typer.Option(None, "--stow", help="DICOMweb service root for STOW-RS instead of --to."),
    calling_ae: str = typer.Option("RADNEC", "--calling-ae", help="Our AE title."),
    timeout_s: float = typer.Option(30.0, "--timeout", help="Network timeout in seconds."),
) -> None:
    """Send the files."""
    from radnec.errors import InputError
    from radnec.net.send import SendError, dicom_files, parse_destination, send, stow

    if (to is None) == (stow_url is None):
        raise InputError("give either --to AET@host:port (DIMSE) or --stow URL (DICOMweb)")
    files = dicom_files(paths)
    if not files:
        raise InputError("no files to send", path=paths[0])
    if stow_url is not None:
        destination = stow_url
        result = stow(files, url=stow_url, timeout_s=timeout_s)
    else:
        destination = parse_destination(to)
        result = send(files, to=destination, calling_ae=calling_ae, timeout_s=timeout_s)
    for path, reason in result.failed:
        typer.echo(f"radnec: not stored: {path}: {reason}", err=True)
    typer.echo(f"{len(result.sent)} of {len(files)} files stored by {destination}")
    if result.failed:
        raise SendError(f"{len(result.failed)} of {len(files)} files were not stored by {destination} (listed above)")
