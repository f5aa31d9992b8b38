"""The base of every error a user can cause and fix.

A :class:`UserError`'s message names the file or config key at fault and the fix; the
command line prints it as one line (``error: ...``), with the traceback only under
``--debug``. The package's error types (``DatasetError``, ``ConfigError``,
``CheckpointError``, ``ChecksumMismatchError``, ...) derive from it as well as from the
built-in type they have always been (``ValueError``, ``FileNotFoundError``, ...), so
existing ``except`` clauses keep working. Third-party errors a user can cause (a
decompression bomb, running out of GPU memory) are converted to one of these where the
call raises them.
"""

from __future__ import annotations

__all__ = ["UserError"]


class UserError(Exception):
    """A failure caused by input or configuration; the message says what to change."""
