"""structlog set-up: JSON lines on stderr, configured once per process, used at boundaries only."""

from __future__ import annotations

import logging
import sys

import structlog

_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING, "error": logging.ERROR}


class _Stderr:
    """Writes each line to whatever ``sys.stderr`` is at that moment (pytest swaps it between tests)."""

    def msg(self, message: str) -> None:
        sys.stderr.write(message + "\n")
        sys.stderr.flush()

    debug = info = warning = error = critical = exception = fatal = log = msg


def _stderr_logger(*args: object) -> _Stderr:
    return _Stderr()


def configure_logging(level: str = "warning", *, cache: bool = True) -> None:
    """Once per process. ``cache=False`` is for tests, which capture logs after the CLI configured them."""
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            # exc_info becomes the traceback as text ("exception"), still on the one JSON line.
            structlog.processors.format_exc_info,
            structlog.processors.JSONRenderer(),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(_LEVELS[level]),
        logger_factory=_stderr_logger,
        cache_logger_on_first_use=cache,
    )
