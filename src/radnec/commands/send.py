"""``radnec send``: C-STORE files (e.g. radnec's exports) to a PACS, TPS or `radnec listen`."""

from __future__ import annotations

from pathlib import Path

import typer

HELP = (
    "Send DICOM files and folders (searched recursively) to --to AET@host:port with C-STORE, each file as "
    "encoded on disk. Every object the peer refuses is named on stderr with the DIMSE status; the exit code "
    "is 2 when any object was not stored."
)


def command(
    paths: list[Path] = typer.Argument(..., help="DICOM files or folders."),
    to: str = typer.Option(..., "--to", help="The peer as AET@host:port, e.g. PACS@10.0.0.5:104."),
    calling_ae: str = typer.Option("RADNEC", "--calling-ae", help="Our AE title."),
    timeout_s: float = typer.Option(30.0, "--timeout", help="Network timeout in seconds."),
) -> None:
    """Send the files."""
    from radnec.errors import InputError
    from radnec.net.send import SendError, dicom_files, parse_destination, send

    destination = parse_destination(to)
    files = dicom_files(paths)
    if not files:
        raise InputError("no files to send", path=paths[0])
    result = send(files, to=destination, calling_ae=calling_ae, timeout_s=timeout_s)
    for path, reason in result.failed:
        typer.echo(f"radnec: not stored: {path}: {reason}", err=True)
    typer.echo(f"{len(result.sent)} of {len(files)} files stored by {destination}")
    if result.failed:
        raise SendError(f"{len(result.failed)} of {len(files)} files were not stored by {destination} (listed above)")
