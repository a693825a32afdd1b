"""DICOM networking (pynetdicom): :mod:`radnec.net.listen` (C-STORE/C-ECHO SCP into a folder) and
:mod:`radnec.net.send` (C-STORE SCU of files, e.g. radnec's exports, to a PACS or TPS)."""
