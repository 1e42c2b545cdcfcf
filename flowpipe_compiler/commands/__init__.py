"""One function per subcommand; each takes plain arguments and returns an exit code."""

from __future__ import annotations

import enum


class Exit(enum.IntEnum):
    """Documented exit codes (README, 'Exit codes')."""

    OK = 0
    FINDINGS = 1
    USAGE = 2
    INTERNAL = 3
    INTERRUPTED = 130
