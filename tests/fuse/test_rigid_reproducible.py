"""The rigid registration gives bit-identical parameters in separate processes (ITK's threaded metric
sums are order-dependent; radnec runs the rigid metric on one thread, radnec.fuse.rigid.RIGID_THREADS)."""

from __future__ import annotations

import subprocess
import sys

SCRIPT = """
import numpy as np, SimpleITK as sitk
sitk.ProcessObject.SetGlobalDefaultNumberOfThreads(2)
from radnec.fuse.synthetic import make_pair, synthetic_head
from radnec.fuse.rigid import register_rigid
image, brain = synthetic_head(seed=0)
pair = make_pair(image, brain, seed=11, mass_effect_mm=0.0, edema_radius_mm=0.0, lesion_radius_mm=(3.0, 3.0),
                 lesion_center_lps=np.array([15.0, 10.0, 5.0]), max_rotation_deg=8.0, max_translation_mm=10.0)
print(repr(register_rigid(pair.planning, pair.followup).GetParameters()))
print(sitk.ProcessObject.GetGlobalDefaultNumberOfThreads())
"""


def test_rigid_parameters_identical_across_processes():
    runs = [subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, check=True).stdout for _ in range(3)]
    assert runs[0] == runs[1] == runs[2], runs
    assert runs[0].split()[-1] == "2"  # the caller's thread setting is restored
