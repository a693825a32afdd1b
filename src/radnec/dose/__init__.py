"""The dose side: DVHs, isodose coverage of follow-up lesions, recurrence pattern, growth
symmetry and plan metrics. Dose in Gy, volumes in cm³, coordinates LPS mm."""
