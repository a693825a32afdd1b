"""``radnec store``: the case store on the command line (``radnec store import DIR|ZIP``)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

HELP = (
    "The case store of radnec serve: 'radnec store import DIR|ZIP' imports a case folder or a zip (files kept by "
    "content hash, patient pseudonymised), 'radnec store list' lists the cases. --analyze also runs the analysis."
)

command = typer.Typer(help=HELP, no_args_is_help=True, add_completion=False)

_DATA = typer.Option("--data", help="Data folder of the store.")
_DB = typer.Option("--db", help="Database URL (default: sqlite in DATA).")


@command.command("import")
def import_(
    source: Annotated[Path, typer.Argument(help="A case folder or a .zip of one.")],
    data: Annotated[Path, _DATA] = Path("radnec-data"),
    db: Annotated[Optional[str], _DB] = None,
    label: Annotated[Optional[str], typer.Option("--label", help="Case label (default: the folder name).")] = None,
    analyze: Annotated[bool, typer.Option("--analyze", help="Also analyse the case now.")] = False,
) -> None:
    """Import one case into the store."""
    from radnec.errors import InputError
    from radnec.store.importer import import_case
    from radnec.store.store import Store
    from radnec.store.tasks import create_job, run_job

    if not source.exists():
        raise InputError("no such file or folder", path=source)
    store = Store(data, db)
    try:
        store.lock(exclusive=False)  # a server's start-up recovery waits for this import
        case_id = import_case(store, source, label=label)
        store.audit("import", case_id=case_id, actor="cli")
        typer.echo(f"imported case {case_id} into {store.root}")
        if analyze:
            job = create_job(store, "analyze", case_id=case_id)
            state = run_job(store, job)
            typer.echo(f"analysis {state}: {store.paths_for(case_id).out_dir}")
            if state != "done":
                raise typer.Exit(2)
    finally:
        store.close()


@command.command("list")
def list_(
    data: Annotated[Path, _DATA] = Path("radnec-data"),
    db: Annotated[Optional[str], _DB] = None,
) -> None:
    """List the cases of the store."""
    from sqlalchemy import select

    from radnec.store.models import Case
    from radnec.store.store import Store

    store = Store(data, db)
    try:
        with store.session() as s:
            for case in s.scalars(select(Case).order_by(Case.id)):
                pseudonym = case.patient.pseudonym if case.patient else "-"
                typer.echo(f"{case.id}\t{pseudonym}\t{case.status}\t{len(case.studies)} studies\t{case.label}")
    finally:
        store.close()
