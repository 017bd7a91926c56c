"""The protocol channel: line-delimited JSON, one request per line on a private copy of the
original stdin, one response (or event) per line on a private copy of the original stdout."""

import json
import os
import sys

from .state import ROUTE


PROTOCOL_VERSION = 1


# --- protocol channel ------------------------------------------------------------------------
# Set up by open_channel(), which __main__ calls before anything else is imported.
_proto = None
_request_fd = None
_requests = None


def open_channel():
    """Moves the protocol off descriptors 0 and 1 before any user code runs: descriptor 0 is
    pointed at /dev/null and descriptor 1 at stderr; the private copies are not inherited."""
    global _proto, _request_fd, _requests
    _proto_fd = os.dup(1)  # os.dup: not inheritable
    os.dup2(2, 1)
    _proto = os.fdopen(_proto_fd, "w", encoding="utf-8", buffering=1)
    sys.stdout = sys.stderr
    _request_fd = os.dup(0)
    _devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(_devnull, 0)
    os.close(_devnull)
    _requests = os.fdopen(_request_fd, "r", encoding="utf-8")
    sys.stdin = open(os.devnull, "r")


def _send(obj):
    _proto.write(json.dumps(obj, default=str) + "\n")
    _proto.flush()


def _versions():
    import alembic
    import sqlalchemy

    return {
        "python": sys.version.split()[0],
        "executable": sys.executable,
        "alembic": alembic.__version__,
        "sqlalchemy": sqlalchemy.__version__,
    }


def _take_notices():
    notices, ROUTE["notices"] = ROUTE["notices"], []
    return notices
