"""One base for every error kbgen reports to a user: a one-line message and an exit status."""

from __future__ import annotations


class KbgenError(Exception):
    """Bad input or an unusable file: the message is one line naming the file, tag or offset.

    The command line prints the message and exits with :attr:`exit_code`; nothing is left half-written.
    """

    exit_code = 2

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message
