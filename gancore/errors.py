"""The exceptions gancore raises on bad input, one base class for all of them.

``scripts/train.py`` (and any other front end) catches :class:`GancoreError` and prints its message as one line: the
message is written for the user and names the field, file or folder at fault, so a traceback would only bury it.
Each class also derives from the builtin that describes it (``ValueError``, ``FileNotFoundError``, ...), so code
that catches those keeps working.
"""
from __future__ import annotations


class GancoreError(Exception):
    """Base of every user-facing gancore error: the message alone says what is wrong and how to go on."""


class ConfigError(GancoreError, ValueError):
    """A config key, type or value is invalid; the message lists the valid choices."""


class DataError(GancoreError, ValueError):
    """Training data is missing, empty or unusable (an empty folder, one image, no decodable file)."""


class DataNotFoundError(DataError, FileNotFoundError):
    """A data folder or file that a run needs does not exist."""


class CheckpointError(GancoreError, RuntimeError):
    """A checkpoint file is unreadable (empty, truncated, corrupt, of another format, or failing its digest)."""


class TrainingDiverged(GancoreError, RuntimeError):
    """A loss or a tensor went NaN/Inf; the run stopped and the last good checkpoint was kept."""


class RunFolderLocked(GancoreError, RuntimeError):
    """Another live process is writing the same run folder."""
