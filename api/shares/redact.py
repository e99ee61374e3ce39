"""Share tokens out of this server's access log.

A link must be a URL to be handed over, so its token travels in the request line, and
uvicorn's access log (``--log-level info``) would write it down. This filter replaces the
token in ``/api/v1/shared/{token}`` with ``***`` before the line is formatted. Proxies in front
of the API keep their own logs: see docs/security.md.
"""

from __future__ import annotations

import logging
import re

_SHARED_PATH = re.compile(r"(/api/v1/shared/)[^/?#\s]+")


def redact(text: str) -> str:
    """``text`` with every share token in a ``/api/v1/shared/...`` path replaced by ``***``."""
    return _SHARED_PATH.sub(r"\1***", text)


class RedactShareTokens(logging.Filter):
    """Rewrites string arguments of a log record (uvicorn's access log passes the path as
    one), so the token never reaches a handler."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in record.args)
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        return True


def install() -> None:
    """Add the filter to uvicorn's access logger (once)."""
    logger = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, RedactShareTokens) for f in logger.filters):
        logger.addFilter(RedactShareTokens())
