"""The command table and the request loop."""

import json
import sys

from . import protocol
from .compat import cmd_compat
from .drift import cmd_drift
from .errors import _error_payload
from .graph import cmd_graph
from .procs import _become_subreaper, _watch_gate
from .project import cmd_load
from .protocol import PROTOCOL_VERSION, _send, _take_notices, _versions
from .session import cmd_database, cmd_release
from .state import STATE
from .steps import cmd_bootstrap, cmd_downgrade, cmd_setup, cmd_sql, cmd_upgrade


def cmd_ping(req):
    return {"pong": True}


COMMANDS = {
    "ping": cmd_ping,
    "load": cmd_load,
    "graph": cmd_graph,
    "database": cmd_database,
    "upgrade": cmd_upgrade,
    "downgrade": cmd_downgrade,
    "setup": cmd_setup,
    "bootstrap": cmd_bootstrap,
    "sql": cmd_sql,
    "drift": cmd_drift,
    "compat": cmd_compat,
    "release": cmd_release,
}


def main():
    _become_subreaper()
    _watch_gate()
    try:
        versions = _versions()
    except ImportError as exc:
        missing = getattr(exc, "name", None) or str(exc)
        _send({"event": "hello", "ok": False, "error": {"kind": "missing_package", "message": "%s cannot import %s" % (sys.executable, missing), "package": missing, "executable": sys.executable}})
        return 0
    _send({"event": "hello", "ok": True, "protocol": PROTOCOL_VERSION, "versions": versions})
    for line in protocol._requests:
        line = line.strip()
        if not line:
            continue
        try:
            req = json.loads(line)
        except ValueError:
            _send({"id": None, "ok": False, "error": {"kind": "protocol", "message": "bad request line"}})
            continue
        rid = req.get("id")
        if req.get("cmd") == "exit":
            _send({"id": rid, "ok": True, "result": {}})
            break
        handler = COMMANDS.get(req.get("cmd"))
        if handler is None:
            _send({"id": rid, "ok": False, "error": {"kind": "protocol", "message": "unknown command %r" % req.get("cmd")}})
            continue
        STATE["foreign"] = None
        try:
            result = handler(req)
            _send({"id": rid, "ok": True, "result": result, "notices": _take_notices()})
        except BaseException as exc:  # SystemExit from user code included
            if isinstance(exc, KeyboardInterrupt):
                raise
            _send({"id": rid, "ok": False, "error": _error_payload(exc), "notices": _take_notices()})
    return 0
