"""Fusion: follow-up MRI onto the planning frame (rigid, then deformable), with quality metrics.

Transform convention (project-wide): a transform ``T`` maps a PLANNING (fixed) point, LPS mm, to
the corresponding FOLLOW-UP (moving) point; ``sitk.Resample(followup, planning_grid, T)`` aligns.
"""
