"""``radnec serve``: the tumour-board workspace (case store, background analyses, viewer) in the browser."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

HELP = (
    "Start the browser workspace: a case store (SQLite in --data, or PostgreSQL by --db URL), background analyses "
    "and the fused viewer. Binds 127.0.0.1:8765 by default; every request needs the access token (printed once as a "
    "login link, or read from --token-file). On first start with an empty store the bundled demo case is generated, "
    "imported and analysed (unless --no-demo). Ctrl-C stops."
)


def command(
    data: Annotated[Path, typer.Option("--data", help="Data folder of the store (database, files, analyses).")] = Path(
        "radnec-data"
    ),
    db: Annotated[Optional[str], typer.Option("--db", help="Database URL: sqlite:///… (default: DATA/radnec.db) or "
                                              "postgresql+psycopg://user@host/db.")] = None,
    host: Annotated[str, typer.Option("--host", help="Address to bind (0.0.0.0 exposes the store to the network).")] = (
        "127.0.0.1"
    ),
    port: Annotated[int, typer.Option("--port", help="TCP port (0: any free port, printed).")] = 8765,
    token_file: Annotated[Optional[Path], typer.Option("--token-file", help="Read the access token from this file "
                                                       "instead of making a one-time token.")] = None,
    no_demo: Annotated[bool, typer.Option("--no-demo", help="Do not import the demo case into an empty store.")] = False,
    max_upload_mb: Annotated[float, typer.Option("--max-upload-mb", help="Largest upload, MB (413 beyond).")] = 2048,
    workers: Annotated[int, typer.Option("--workers", help="Job threads (jobs of one case never overlap at 1).")] = 1,
    demo_voxel_mm: Annotated[float, typer.Option("--demo-voxel-mm", help="Voxel size of the demo case, mm.")] = 1.0,
) -> None:
    import logging
    import secrets
    import socket

    import uvicorn

    from radnec.errors import InputError
    from radnec.web.app import create_app
    from radnec.web.settings import Settings

    if token_file is not None:
        try:
            token = token_file.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise InputError(f"cannot read the token file ({exc.strerror}); write a token of 16+ characters into it",
                             path=token_file) from None
        if len(token) < 16:
            raise InputError("the token must have at least 16 characters", path=token_file)
    else:
        token = secrets.token_urlsafe(32)
    if not 0 <= port < 65536 or workers < 0 or max_upload_mb <= 0:
        raise InputError("--port must be 0..65535, --workers ≥ 0 and --max-upload-mb > 0")
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        raise InputError(f"cannot bind {host}:{port} ({exc.strerror}); choose another --port") from None
    sock.listen(128)
    bound = sock.getsockname()[1]
    logging.getLogger("radnec").setLevel(logging.INFO)
    settings = Settings(data_dir=data, db_url=db, token=token, max_upload_mb=max_upload_mb, demo=not no_demo,
                        workers=workers, demo_voxel_mm=demo_voxel_mm)
    app = create_app(settings)
    shown = "[::1]" if host == "::" else ("127.0.0.1" if host == "0.0.0.0" else host)
    base = f"http://{shown}:{bound}"
    typer.echo(f"radnec serve: store {data.resolve()}, listening on {host}:{bound}")
    if token_file is None:
        typer.echo(f"open {base}/login?token={token}   (one-time token; keep it private)", err=False)
    else:
        typer.echo(f"open {base}/login?token=<the token in {token_file}>")
    if host not in ("127.0.0.1", "localhost", "::1"):
        typer.echo("warning: bound to a non-loopback address: anyone with the token on the network can use the store",
                   err=True)
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on", timeout_keep_alive=30)
    uvicorn.Server(config).run(sockets=[sock])
