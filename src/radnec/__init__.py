"""radnec: decision support for enlarging brain metastases after stereotactic radiosurgery.

radnec helps a tumour board weigh radiation necrosis against tumour progression for a
brain metastasis treated with SRS. It is decision support for clinicians, not a
diagnosis and not a medical device.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("radnec")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0+unknown"

DISCLAIMER = (
    "radnec is research decision support for clinicians. It does not diagnose, is not a "
    "medical device and has not been validated for clinical use. Every number it shows "
    "must be checked against the images, the plan and the patient by a qualified clinician."
)

__all__ = ["__version__", "DISCLAIMER"]
