"""The case store's tables (SQLAlchemy 2, typed declarative models).

A patient is kept only as a salted SHA-256 of its DICOM PatientID (to recognise the same patient in a later
import) and a generated pseudonym; never a name, birth date or the ID itself. A case is one imported folder
(one planning study and its follow-ups) of one patient; its files are blobs addressed by content hash. Every
finished pipeline run is an :class:`Analysis` with its lesions (N per case). Jobs are the background runs
of the pipeline; audit events record who did what (the token holder) and when, without patient data.

Times are timezone-aware UTC; points are LPS mm in the frame named beside them.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, BigInteger, DateTime, TypeDecorator, Float, ForeignKey, Integer, MetaData, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


class UTCDateTime(TypeDecorator[dt.datetime]):
    """A timezone-aware UTC timestamp on every database (SQLite keeps none: read back as UTC)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("store timestamps must be timezone-aware (UTC)")
        return None if value is None else value.astimezone(dt.timezone.utc)

    def process_result_value(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=dt.timezone.utc) if value.tzinfo is None else value.astimezone(dt.timezone.utc)


def utcnow() -> dt.datetime:
    """Now, timezone-aware UTC."""
    return dt.datetime.now(dt.timezone.utc)


class Base(DeclarativeBase):
    """Declarative base of every store table (its ``metadata`` is what Alembic migrates)."""

    metadata = MetaData(
        naming_convention={
            "ix": "ix_%(table_name)s_%(column_0_N_name)s",
            "uq": "uq_%(table_name)s_%(column_0_N_name)s",
            "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
            "pk": "pk_%(table_name)s",
        }
    )
    type_annotation_map = {dt.datetime: UTCDateTime(), dict[str, Any]: JSON, list[Any]: JSON}


class Patient(Base):
    """A pseudonymised patient: salted hash of the PatientID and a generated pseudonym."""

    __tablename__ = "patients"
    id: Mapped[int] = mapped_column(primary_key=True)
    id_hash: Mapped[str] = mapped_column(String(64), unique=True, doc="HMAC-SHA256(salt, PatientID), hex")
    pseudonym: Mapped[str] = mapped_column(String(32), unique=True)
    created_utc: Mapped[dt.datetime] = mapped_column(default=utcnow)
    cases: Mapped[list[Case]] = relationship(back_populates="patient")


class Case(Base):
    """One imported case folder (planning study + follow-ups) of one patient."""

    __tablename__ = "cases"
    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int | None] = mapped_column(ForeignKey("patients.id", ondelete="RESTRICT"), index=True)
    label: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(20), default="imported", doc="imported | analysed | failed")
    n_files: Mapped[int] = mapped_column(Integer, default=0)
    created_utc: Mapped[dt.datetime] = mapped_column(default=utcnow)
    patient: Mapped[Patient | None] = relationship(back_populates="cases")
    studies: Mapped[list[Study]] = relationship(back_populates="case", cascade="all, delete-orphan")
    files: Mapped[list[CaseFile]] = relationship(back_populates="case", cascade="all, delete-orphan")
    analyses: Mapped[list[Analysis]] = relationship(back_populates="case", cascade="all, delete-orphan")
    note: Mapped[Note | None] = relationship(back_populates="case", cascade="all, delete-orphan")


class Study(Base):
    """A DICOM study of a case (date and description only)."""

    __tablename__ = "studies"
    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    study_uid: Mapped[str] = mapped_column(String(64))
    study_date: Mapped[str | None] = mapped_column(String(10), doc="YYYY-MM-DD")
    description: Mapped[str | None] = mapped_column(String(200))
    case: Mapped[Case] = relationship(back_populates="studies")
    series: Mapped[list[Series]] = relationship(back_populates="study", cascade="all, delete-orphan")


class Series(Base):
    """A series of a study: its kind (MR, RTDOSE, …) and size."""

    __tablename__ = "series"
    id: Mapped[int] = mapped_column(primary_key=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("studies.id", ondelete="CASCADE"), index=True)
    series_uid: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(32))
    modality: Mapped[str] = mapped_column(String(16))
    description: Mapped[str | None] = mapped_column(String(200))
    n_instances: Mapped[int] = mapped_column(Integer, default=0)
    study: Mapped[Study] = relationship(back_populates="series")


class Blob(Base):
    """A file stored once by content: ``DATA/blobs/<sha256[:2]>/<sha256>``."""

    __tablename__ = "blobs"
    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    created_utc: Mapped[dt.datetime] = mapped_column(default=utcnow)


class CaseFile(Base):
    """A blob as one input file of a case (its name in the case folder is ``<sha256><suffix>``)."""

    __tablename__ = "case_files"
    __table_args__ = (UniqueConstraint("case_id", "sha256"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    sha256: Mapped[str] = mapped_column(ForeignKey("blobs.sha256", ondelete="RESTRICT"), index=True)
    suffix: Mapped[str] = mapped_column(String(16), default="")
    case: Mapped[Case] = relationship(back_populates="files")


class Analysis(Base):
    """One finished pipeline run on a case (the numbers the page shows; analysis.json holds the rest)."""

    __tablename__ = "analyses"
    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    job_id: Mapped[int | None] = mapped_column(ForeignKey("jobs.id", ondelete="SET NULL"))
    kind: Mapped[str] = mapped_column(String(20), doc="analyze | seed | clinical")
    finished_utc: Mapped[dt.datetime] = mapped_column(default=utcnow)
    analysis_sha256: Mapped[str] = mapped_column(String(64), doc="SHA-256 of the analysis.json written")
    summary: Mapped[dict[str, Any]] = mapped_column(default=dict, doc="overview block of analysis.json")
    case: Mapped[Case] = relationship(back_populates="analyses")
    lesions: Mapped[list[Lesion]] = relationship(back_populates="analysis", cascade="all, delete-orphan")


class Lesion(Base):
    """One lesion of an analysis (N per case): its seed (planning frame) and headline numbers."""

    __tablename__ = "lesions"
    id: Mapped[int] = mapped_column(primary_key=True)
    analysis_id: Mapped[int] = mapped_column(ForeignKey("analyses.id", ondelete="CASCADE"), index=True)
    index: Mapped[int] = mapped_column(Integer)
    label: Mapped[str] = mapped_column(String(200))
    seed_lps: Mapped[list[Any] | None] = mapped_column(doc="LPS mm, planning frame")
    volume_cc: Mapped[float | None] = mapped_column(Float, doc="latest enhancing volume, cm3")
    p_progression: Mapped[float | None] = mapped_column(Float, doc="posterior probability of progression")
    analysis: Mapped[Analysis] = relationship(back_populates="lesions")


class Note(Base):
    """The free-text tumour-board note of a case (one per case; every change is audited)."""

    __tablename__ = "notes"
    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), unique=True)
    text: Mapped[str] = mapped_column(Text, default="")
    updated_utc: Mapped[dt.datetime] = mapped_column(default=utcnow)
    case: Mapped[Case] = relationship(back_populates="note")


class Job(Base):
    """A background run: import, analyze, seed, clinical, report or demo."""

    __tablename__ = "jobs"
    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    state: Mapped[str] = mapped_column(String(10), default="queued", index=True, doc="queued | running | done | failed")
    params: Mapped[dict[str, Any]] = mapped_column(default=dict)
    progress: Mapped[list[Any]] = mapped_column(default=list, doc="stage names reached, in order")
    error: Mapped[str | None] = mapped_column(Text)
    created_utc: Mapped[dt.datetime] = mapped_column(default=utcnow)
    started_utc: Mapped[dt.datetime | None] = mapped_column()
    finished_utc: Mapped[dt.datetime | None] = mapped_column()


class AuditEvent(Base):
    """Who (the token holder, from which address) did what to which case, and when. No patient data."""

    __tablename__ = "audit_events"
    id: Mapped[int] = mapped_column(primary_key=True)
    at_utc: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(50))
    case_id: Mapped[int | None] = mapped_column(Integer, index=True, doc="no foreign key: events outlive cases")
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)


__all__ = ["Analysis", "AuditEvent", "Base", "Blob", "Case", "CaseFile", "Job", "Lesion", "Note", "Patient", "Series",
           "Study", "utcnow"]
