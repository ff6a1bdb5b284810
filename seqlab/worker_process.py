"""What every worker process shares: exiting on SIGTERM, one-line error messages, its log lines.

Used by the local worker (`seqlab.jobs`) and the Ray dispatcher
(`seqlab.ray_backend`), so both log and report failures alike. Imports only
the standard library.
"""

from __future__ import annotations

import sys
import time


def exit_on_signal(signum: int, frame) -> None:
    """A signal handler that turns SIGTERM into `SystemExit` (status 128 + signal), so `finally` blocks run."""
    raise SystemExit(128 + signum)


def one_line(error: BaseException) -> str:
    """Returns "Type: message" on one line, at most 500 characters (cut with "...")."""
    text = " ".join(str(error).split())
    text = f"{type(error).__name__}: {text}" if text else type(error).__name__
    return text if len(text) <= 500 else text[:497] + "..."


def log(message: str) -> None:
    """Writes a time-stamped line to standard error (a worker's log file)."""
    print(f"{time.strftime('%Y-%m-%d %H:%M:%S')} {message}", file=sys.stderr, flush=True)
