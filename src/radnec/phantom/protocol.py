"""Follow-up studies as a hospital's routine protocol writes them (``radnec phantom --protocol clinical-2d``)."""

from __future__ import annotations

#: Follow-up protocols: ``research-3d`` (3-D T1c + FLAIR) and ``clinical-2d`` (routine 2-D protocol).
PROTOCOLS = ("research-3d", "clinical-2d")
#: When a clinical-2d follow-up also has a sagittal 3-D post-contrast T1.
SAG3D = ("never", "some", "always")
