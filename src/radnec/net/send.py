"""C-STORE SCU: send DICOM files to a peer (PACS, TPS, ``radnec listen``) with pynetdicom.

Each file is sent as it is encoded on disk (pynetdicom sends a file path without decoding it),
so the receiver gets the same bytes. One presentation context is proposed per SOP class and
transfer syntax of the files, with that syntax alone; more than 128 such pairs are sent over
several associations. A peer that accepts no context for a file's class and syntax gets nothing
for that file, and the file is reported (radnec does not transcode). Every object the peer refuses is reported with its
file and the DIMSE status; :func:`send` never stops at the first refusal. :func:`stow` does the same
over DICOMweb (STOW-RS, optional dicomweb-client).
"""

from __future__ import annotations

import logging
import re
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from radnec.errors import InputError, RadnecError

log = logging.getLogger(__name__)

#: The DICOM limit of presentation contexts in one association (PS3.8 9.3.2.2: odd IDs 1-255).
MAX_CONTEXTS = 128
#: C-STORE status meanings radnec names (PS3.4 Table B.2-1); others print as hex.
STATUS_TEXT = {
    0xA700: "refused: out of resources",
    0xA900: "error: data set does not match SOP class",
    0xC000: "error: cannot understand",
    0xC210: "error: cannot understand",
    0x0122: "refused: SOP class not supported",
    0x0124: "refused: not authorised",
    0x0211: "unrecognised operation",
}
_DEST = re.compile(r"^(?P<aet>[^@]{1,16})@(?P<host>[^:@]+):(?P<port>\d{1,5})$")


class SendError(RadnecError):
    """One or more objects were not stored by the peer, or no association could be made."""


@dataclass(frozen=True)
class Destination:
    """A DICOM peer: called AE title, host and port."""

    ae_title: str
    host: str
    port: int

    def __str__(self) -> str:
        return f"{self.ae_title}@{self.host}:{self.port}"


def parse_destination(text: str) -> Destination:
    """``AET@host:port`` → :class:`Destination` (AE title at most 16 characters)."""
    m = _DEST.match(text.strip())
    if not m or not 0 < int(m.group("port")) < 65536:
        raise InputError(f"destination {text!r} is not AET@host:port (e.g. RADNEC@127.0.0.1:11112)")
    return Destination(ae_title=m.group("aet").strip(), host=m.group("host"), port=int(m.group("port")))


@dataclass
class SendResult:
    """What happened to each file: ``sent`` paths and ``failed`` (path, reason) pairs."""

    sent: list[Path] = field(default_factory=list)
    failed: list[tuple[Path, str]] = field(default_factory=list)


def dicom_files(paths: Sequence[Path]) -> list[Path]:
    """The files of ``paths`` (folders searched recursively, hidden entries skipped), sorted."""
    out: list[Path] = []
    for p in paths:
        p = Path(p)
        if p.is_dir():
            out += sorted(f for f in p.rglob("*") if f.is_file() and not any(part.startswith(".") for part in f.relative_to(p).parts))
        elif p.is_file():
            out.append(p)
        else:
            raise InputError("no such file or folder", path=p)
    return out


def _header(path: Path) -> tuple[str, str] | str:
    """(SOP class UID, transfer syntax UID) of a DICOM file, or why it cannot be sent."""
    import pydicom

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ds = pydicom.dcmread(path, stop_before_pixels=True, specific_tags=["SOPClassUID", "SOPInstanceUID"])
    except Exception as exc:  # noqa: BLE001
        return f"not a DICOM file ({type(exc).__name__})"
    meta = getattr(ds, "file_meta", None)
    ts = str(meta.get("TransferSyntaxUID", "")) if meta is not None else ""
    sop_class = str(ds.get("SOPClassUID", "") or (meta.get("MediaStorageSOPClassUID", "") if meta is not None else ""))
    if not ts or not sop_class:
        return "no DICOM file meta header or SOP class (not a DICOM Part 10 file)"
    return sop_class, ts


def send(
    files: Sequence[Path],
    *,
    to: Destination,
    calling_ae: str = "RADNEC",
    timeout_s: float = 30.0,
    pynetdicom_log: bool = False,
) -> SendResult:
    """C-STORE every file to ``to``.

    Returns
    -------
    SendResult
        Files stored (status success or warning) and files not stored with the reason
        (peer's status, no accepted presentation context, not DICOM, association lost).

    Raises
    ------
    SendError
        No association could be established at all (peer down, AE title refused).
    """
    from pynetdicom import AE, evt

    from radnec.net.tcp import no_delay

    if not pynetdicom_log:
        logging.getLogger("pynetdicom").setLevel(logging.CRITICAL)
    result = SendResult()
    by_class: dict[str, list[tuple[Path, str]]] = {}
    for f in files:
        head = _header(Path(f))
        if isinstance(head, str):
            result.failed.append((Path(f), head))
            continue
        by_class.setdefault(head[0], []).append((Path(f), head[1]))
    # one presentation context per (SOP class, transfer syntax) with that syntax alone: acceptors
    # choose among a context's syntaxes by their own preference (pynetdicom: implicit VR first),
    # which would make the sender re-encode the file; a single syntax keeps it byte for byte
    pairs = sorted({(sop_class, ts) for sop_class, items in by_class.items() for _, ts in items})
    for start in range(0, len(pairs), MAX_CONTEXTS):
        batch = pairs[start:start + MAX_CONTEXTS]
        ae = AE(ae_title=calling_ae)
        ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = timeout_s
        for sop_class, ts in batch:
            ae.add_requested_context(sop_class, [ts])
        todo = [(path, ts) for sop_class, ts in batch for path, t in by_class[sop_class] if t == ts]
        assoc = ae.associate(to.host, to.port, ae_title=to.ae_title, evt_handlers=[(evt.EVT_CONN_OPEN, no_delay)])
        if not assoc.is_established:
            why = "rejected the association (check the called AE title and that it accepts ours)" if assoc.is_rejected \
                else "could not be reached or aborted the association"
            raise SendError(f"{to} {why}; nothing sent from this batch of {len(todo)} files")
        try:
            for path, ts in todo:
                if not assoc.is_established:
                    result.failed.append((path, "association lost before this object was sent"))
                    continue
                try:
                    status = assoc.send_c_store(path)
                except ValueError:  # the peer accepted no presentation context for it
                    result.failed.append((path, f"not sent: {to} does not accept its SOP class in transfer syntax {ts}"))
                    continue
                code = int(getattr(status, "Status", -1)) if status else -1
                if code == -1:
                    result.failed.append((path, "no response (timeout or association aborted)"))
                elif code == 0x0000 or 0xB000 <= code <= 0xBFFF:
                    result.sent.append(path)
                else:
                    result.failed.append((path, f"refused by {to}: status 0x{code:04X} "
                                                f"({STATUS_TEXT.get(code, 'failure')})"))
        finally:
            if assoc.is_established:
                assoc.release()
    log.info("sent %d of %d files to %s", len(result.sent), len(result.sent) + len(result.failed), to)
    return result


def stow(files: Sequence[Path], *, url: str, timeout_s: float = 30.0) -> SendResult:
    """DICOMweb STOW-RS of every file to ``url`` (the service root, e.g.
    ``http://pacs:8042/dicom-web``) with dicomweb-client, one request per file so that each refusal
    names its file. Optional: needs ``pip install radnec[dicomweb]``.

    Raises
    ------
    SendError
        dicomweb-client missing, or the server cannot be reached at all.
    """
    import pydicom

    try:
        import requests
        from dicomweb_client.api import DICOMwebClient
    except ModuleNotFoundError as exc:
        raise SendError("--stow needs dicomweb-client (pip install 'radnec[dicomweb]')") from exc
    session = requests.Session()
    client = DICOMwebClient(url=url.rstrip("/"), session=session)
    result = SendResult()
    for f in files:
        path = Path(f)
        head = _header(path)
        if isinstance(head, str):
            result.failed.append((path, head))
            continue
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                ds = pydicom.dcmread(path)
            client.store_instances([ds])
        except requests.ConnectionError as exc:
            raise SendError(f"cannot reach the DICOMweb service {url} ({type(exc).__name__})") from exc
        except requests.HTTPError as exc:
            code = exc.response.status_code if exc.response is not None else "?"
            result.failed.append((path, f"refused by {url}: HTTP {code}"))
            continue
        result.sent.append(path)
    log.info("stored %d of %d files through STOW-RS", len(result.sent), len(result.sent) + len(result.failed))
    return result


def echo(*, to: Destination, calling_ae: str = "RADNEC", timeout_s: float = 10.0) -> bool:
    """C-ECHO ``to``; True when it answers with success."""
    from pynetdicom import AE
    from pynetdicom.sop_class import Verification

    logging.getLogger("pynetdicom").setLevel(logging.CRITICAL)
    ae = AE(ae_title=calling_ae)
    ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = timeout_s
    ae.add_requested_context(Verification)
    assoc = ae.associate(to.host, to.port, ae_title=to.ae_title)
    if not assoc.is_established:
        return False
    try:
        status = assoc.send_c_echo()
        return bool(status) and int(status.Status) == 0
    finally:
        assoc.release()


__all__ = ["Destination", "parse_destination", "SendResult", "SendError", "send", "stow", "echo", "dicom_files"]
