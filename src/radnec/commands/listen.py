"""``radnec listen``: a C-STORE/C-ECHO SCP that files received studies into a folder."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

HELP = (
    "Receive DICOM objects (C-STORE, and C-ECHO) into --store, sorted as patient-<hash>/<study>/<series>/"
    "<instance>.dcm with atomic writes; duplicates are ignored. Bad peers (wrong AE title, a non-DICOM "
    "connection, a corrupt dataset) get one log line each and the SCP keeps serving. Binds 127.0.0.1 unless "
    "--host says otherwise. Ctrl-C stops."
)


def command(
    store: Path = typer.Option(..., "--store", help="Folder that receives the instances (created)."),
    ae_title: str = typer.Option("RADNEC", "--ae-title", help="This SCP's AE title (max 16 characters)."),
    port: int = typer.Option(11112, "--port", help="TCP port (0: any free port, printed)."),
    host: str = typer.Option("127.0.0.1", "--host", help="Address to bind (0.0.0.0: every interface)."),
    allow: Optional[list[str]] = typer.Option(None, "--allow", help="Calling AE title allowed to send (repeat); default any."),
) -> None:
    """Run the SCP until interrupted."""
    import time

    from radnec.errors import InputError
    from radnec.net.listen import start

    if not 0 < len(ae_title.strip()) <= 16:
        raise InputError(f"--ae-title {ae_title!r} must have 1 to 16 characters")
    listener = start(store=store, ae_title=ae_title.strip(), host=host, port=port, allowed_calling_aets=allow)
    typer.echo(f"listening as {ae_title.strip()} on {host}:{listener.port}, storing into {store} (Ctrl-C stops)")
    try:
        while True:
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        listener.stop()
        s = listener.stats
        typer.echo(f"stopped: {s.stored} stored, {s.duplicates} duplicates, {s.refused} refused, "
                   f"{s.rejected_associations} associations rejected, {s.aborted_associations} aborted")
