"""Advanced imaging: DSC perfusion, PET SUV/TBR and MR spectroscopy (see docs/imaging.md).

Modules (4-D DSC series are read by :mod:`radnec.ingest.dsc`): :mod:`~radnec.imaging.perfusion` (rCBV, PSR),
:mod:`~radnec.imaging.suv` (SUVbw factors from headers), :mod:`~radnec.imaging.pet` (SUV image, SUV/TBR in a
lesion), :mod:`~radnec.imaging.mrs` (spectroscopy ratios), :mod:`~radnec.imaging.contralateral` (mirror
reference regions), :mod:`~radnec.imaging.masks` (masks onto series grids), :mod:`~radnec.imaging.knowledge`
(cited thresholds, observations), :mod:`~radnec.imaging.collect` (pipeline hook).
"""
