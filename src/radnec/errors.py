"""The radnec error hierarchy.

Every error radnec raises on purpose is a :class:`RadnecError`. Its message names the file
(when there is one), the object and the problem, and where possible the fix. The command
line turns any ``RadnecError`` into a single line on stderr and exit code 2.
"""

from __future__ import annotations

from os import PathLike


class RadnecError(Exception):
    """Base class of every deliberate radnec error.

    Parameters
    ----------
    message
        What is wrong, in words a physicist understands.
    path
        The file or folder concerned, if any; it is prefixed to the message.
    """

    def __init__(self, message: str, *, path: str | PathLike[str] | None = None) -> None:
        self.message = message
        self.path = None if path is None else str(path)
        super().__init__(f"{self.path}: {message}" if self.path else message)


class InputError(RadnecError):
    """A file cannot be read or is not what it claims to be (truncated, not DICOM, ...)."""


class GeometryError(RadnecError):
    """Geometry that radnec cannot represent faithfully (non-uniform slices, duplicate
    positions, mismatched grids, a dose grid outside the image, ...)."""


class FrameOfReferenceError(GeometryError):
    """Objects that must share a frame of reference do not."""


class UnitsError(RadnecError):
    """Units that are missing, not understood or implausible (dose units, scaling, SUV)."""


class MissingReferenceError(RadnecError):
    """A DICOM object references something that is not there (a missing series or ROI)."""


class RegistrationError(RadnecError):
    """Registration failed or produced an implausible result."""


class CaseFileError(RadnecError):
    """A clinical case file (YAML/JSON) is invalid; the message names the field."""


class EvidenceError(RadnecError):
    """The knowledge base or an observation passed to the evidence engine is invalid."""


__all__ = [
    "RadnecError",
    "InputError",
    "GeometryError",
    "FrameOfReferenceError",
    "UnitsError",
    "MissingReferenceError",
    "RegistrationError",
    "CaseFileError",
    "EvidenceError",
]
