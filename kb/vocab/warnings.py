"""Warnings kbgen's library code gives: something was skipped or repaired, and the work went on.

Issued through Python's :mod:`warnings`; the command line prints each as one line on stderr.
"""

from __future__ import annotations

import warnings


class KbgenWarning(UserWarning):
    pass


def warn(message: str) -> None:
    warnings.warn(message, KbgenWarning, stacklevel=2)
