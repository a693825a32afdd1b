"""A C-STORE (and C-ECHO) SCP that files received instances into a folder (pynetdicom).

Layout: ``STORE/patient-<h>/<StudyInstanceUID>/<SeriesInstanceUID>/<SOPInstanceUID>.dcm``, where
``<h>`` is the first 16 hex digits of the SHA-256 of the PatientID (no identifier in a folder
name or a log line). Each file is the instance exactly as the peer encoded it, behind a DICOM
file meta header (``event.encoded_dataset()``), so its bytes after the meta header equal the
sender's.

* **Atomic writes**: an instance is written to ``STORE/.incoming/`` under a unique temporary name
  and renamed into place (``os.replace``, same file system); a reader never sees half a file,
  and a peer that disconnects mid-transfer leaves nothing (pynetdicom hands over a dataset only
  once all its fragments have arrived; the temporary file of an interrupted write is removed).
* **Duplicates** (same SOP Instance UID already stored) are answered with success and not
  written again.
* **Bad peers** get one WARNING line each and the SCP keeps serving: an association rejected
  for its called or calling AE title, an association aborted (e.g. a peer that speaks no DICOM),
  a dataset that cannot be decoded or does not match its C-STORE request (refused with status
  0xC210 / 0xA900). pynetdicom's own log is silenced below CRITICAL by :func:`start` unless asked.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import tempfile
import threading
from dataclasses import dataclass, field
from io import BytesIO
from pathlib import Path

log = logging.getLogger(__name__)

STATUS_SUCCESS = 0x0000
#: C-STORE failure: "Error: Data Set does not match SOP Class" (PS3.4 Table B.2-1).
STATUS_MISMATCH = 0xA900
#: C-STORE failure: "Error: Cannot understand" (PS3.4 Table B.2-1, 0xCxxx).
STATUS_CANNOT_UNDERSTAND = 0xC210
#: C-STORE failure: "Refused: Out of Resources" (writing failed).
STATUS_OUT_OF_RESOURCES = 0xA700
INCOMING = ".incoming"
_UID = re.compile(r"^[0-9.]{1,64}$")


def patient_folder(patient_id: str) -> str:
    """``patient-`` + 16 hex digits of SHA-256(PatientID): sorts by patient without naming one."""
    return "patient-" + hashlib.sha256(patient_id.encode("utf-8")).hexdigest()[:16]


@dataclass
class StoreStats:
    """What the SCP did since it started (thread-safe counters)."""

    stored: int = 0
    duplicates: int = 0
    refused: int = 0
    rejected_associations: int = 0
    aborted_associations: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, name: str) -> None:
        with self.lock:
            setattr(self, name, getattr(self, name) + 1)


def _require_complete_pixels(ds, *, native: bool) -> None:  # noqa: ANN001 - pydicom Dataset
    """Raise ValueError when uncompressed Pixel Data is shorter than its header says (pydicom
    reads a truncated last element without complaint)."""
    if not native or "PixelData" not in ds:
        return
    frames = int(ds.get("NumberOfFrames", 1) or 1)
    bits = int(ds.BitsAllocated) * int(ds.Rows) * int(ds.Columns) * int(ds.get("SamplesPerPixel", 1)) * frames
    if len(ds.PixelData) < (bits + 7) // 8:
        raise ValueError("Pixel Data shorter than Rows x Columns x Bits Allocated")


def _peer(event) -> str:  # noqa: ANN001 - pynetdicom Event
    req = event.assoc.requestor
    return f"{req.address}:{req.port} (calling AE {str(req.ae_title).strip()!r})"


class _Handlers:
    """The event handlers of one running SCP (state: the store folder and the counters)."""

    def __init__(self, store: Path, stats: StoreStats) -> None:
        self.store = store
        self.stats = stats
        incoming = store / INCOMING
        incoming.mkdir(parents=True, exist_ok=True)
        for stale in incoming.glob("*.part"):  # left by a listener killed while writing
            stale.unlink(missing_ok=True)

    def echo(self, event) -> int:  # noqa: ANN001
        return STATUS_SUCCESS

    def store_instance(self, event) -> int:  # noqa: ANN001
        import pydicom

        request = event.request
        try:
            ts = event.context.transfer_syntax
            raw = event.encoded_dataset(include_meta=False)
            ds = pydicom.filereader.read_dataset(
                BytesIO(raw), ts.is_implicit_VR, ts.is_little_endian
            ) if not ts.is_deflated else event.dataset
            for _ in ds.iterall():  # converts every element: a corrupt value fails here
                pass
            _require_complete_pixels(ds, native=not ts.is_compressed)
            sop_uid = str(ds.SOPInstanceUID)
            sop_class = str(ds.SOPClassUID)
            study_uid = str(ds.StudyInstanceUID)
            series_uid = str(ds.SeriesInstanceUID)
            patient_id = str(ds.get("PatientID", "") or "")
        except Exception as exc:  # noqa: BLE001 - pydicom raises many types on corrupt input
            self.stats.add("refused")
            log.warning("refused an instance from %s: cannot decode the dataset (%s)", _peer(event), type(exc).__name__)
            return STATUS_CANNOT_UNDERSTAND
        if sop_uid != str(request.AffectedSOPInstanceUID) or sop_class != str(request.AffectedSOPClassUID) \
                or not all(_UID.match(u) for u in (sop_uid, study_uid, series_uid)):
            self.stats.add("refused")
            log.warning("refused an instance from %s: its SOP class/instance UIDs do not match the C-STORE request "
                        "or are not valid UIDs", _peer(event))
            return STATUS_MISMATCH
        final = self.store / patient_folder(patient_id) / study_uid / series_uid / f"{sop_uid}.dcm"
        if final.exists():
            self.stats.add("duplicates")
            log.info("duplicate instance from %s ignored", _peer(event))
            return STATUS_SUCCESS
        tmp = None
        try:
            final.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.store / INCOMING, suffix=".part")
            with os.fdopen(fd, "wb") as fh:
                fh.write(event.encoded_dataset(include_meta=True))
            os.replace(tmp, final)
            tmp = None
        except OSError as exc:
            self.stats.add("refused")
            log.warning("could not store an instance from %s: %s", _peer(event), exc.strerror or exc)
            return STATUS_OUT_OF_RESOURCES
        finally:
            if tmp is not None:
                Path(tmp).unlink(missing_ok=True)
        self.stats.add("stored")
        return STATUS_SUCCESS

    def rejected(self, event) -> None:  # noqa: ANN001
        rq = event.assoc.requestor.primitive
        ours = str(event.assoc.acceptor.ae_title).strip()
        called = str(getattr(rq, "called_ae_title", "")).strip()
        if called != ours:
            why = f"called AE title {called!r} is not {ours!r}"
        elif event.assoc.ae.require_calling_aet:
            why = "its calling AE title is not in the allowed list"
        else:
            why = "too many associations or a failed negotiation"
        event.assoc.radnec_logged = True
        self.stats.add("rejected_associations")
        log.warning("rejected association from %s: %s", _peer(event), why)

    def aborted(self, event) -> None:  # noqa: ANN001
        event.assoc.radnec_logged = True
        self.stats.add("aborted_associations")
        log.warning("association with %s aborted (peer vanished or sent something that is not DICOM)", _peer(event))

    def established(self, event) -> None:  # noqa: ANN001
        event.assoc.radnec_logged = True

    def closed(self, event) -> None:  # noqa: ANN001
        """A connection that ends without an association, a rejection or an abort being seen:
        a peer that spoke no DICOM (a port scanner, an HTTP client, a truncated PDU)."""
        if not getattr(event.assoc, "radnec_logged", False):
            self.stats.add("aborted_associations")
            log.warning("connection from %s closed without a DICOM association (not a DICOM peer?)", _peer(event))


@dataclass
class Listener:
    """A running SCP: ``port`` (the bound one, useful with port 0), ``stats``; :meth:`stop` it."""

    server: object
    port: int
    store: Path
    stats: StoreStats

    def stop(self) -> None:
        """Stop accepting associations and close the socket."""
        self.server.shutdown()


def start(
    *,
    store: Path,
    ae_title: str = "RADNEC",
    host: str = "127.0.0.1",
    port: int = 11112,
    allowed_calling_aets: list[str] | None = None,
    pynetdicom_log: bool = False,
) -> Listener:
    """Start the C-STORE/C-ECHO SCP in background threads and return at once.

    Parameters
    ----------
    store
        Folder that receives the instances (created).
    ae_title
        The SCP's AE title; associations calling another title are rejected.
    host, port
        Address to bind (``port=0``: a free port, see :attr:`Listener.port`).
    allowed_calling_aets
        When given, only these calling AE titles may associate.
    pynetdicom_log
        Keep pynetdicom's own log messages (default: silenced below CRITICAL; radnec logs one
        line per event).

    Raises
    ------
    radnec.errors.InputError
        The address cannot be bound (port in use, no permission).
    """
    from pynetdicom import AE, ALL_TRANSFER_SYNTAXES, AllStoragePresentationContexts, evt
    from pynetdicom.sop_class import Verification

    from radnec.errors import InputError

    if not pynetdicom_log:
        logging.getLogger("pynetdicom").setLevel(logging.CRITICAL)
    store = Path(store)
    stats = StoreStats()
    handlers = _Handlers(store, stats)
    ae = AE(ae_title=ae_title)
    for cx in AllStoragePresentationContexts:
        ae.add_supported_context(cx.abstract_syntax, ALL_TRANSFER_SYNTAXES)
    ae.add_supported_context(Verification)
    ae.require_called_aet = True
    if allowed_calling_aets:
        ae.require_calling_aet = list(allowed_calling_aets)
    from radnec.net.tcp import no_delay

    events = [
        (evt.EVT_CONN_OPEN, no_delay),
        (evt.EVT_C_STORE, handlers.store_instance),
        (evt.EVT_C_ECHO, handlers.echo),
        (evt.EVT_REJECTED, handlers.rejected),
        (evt.EVT_ABORTED, handlers.aborted),
        (evt.EVT_ESTABLISHED, handlers.established),
        (evt.EVT_CONN_CLOSE, handlers.closed),
    ]
    try:
        server = ae.start_server((host, port), block=False, evt_handlers=events)
    except OSError as exc:
        raise InputError(f"cannot listen on {host}:{port} ({exc.strerror or exc})") from exc
    bound = server.server_address[1]
    log.info("listening as %s on %s:%d, storing into %s", ae_title, host, bound, store)
    return Listener(server=server, port=bound, store=store, stats=stats)


__all__ = ["start", "Listener", "StoreStats", "patient_folder"]
