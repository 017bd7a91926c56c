"""GateError, and error payloads that name the file, line and revision of the user's project
at fault (the innermost frame in it), with only the user's own frames as detail."""

import os
import traceback

from .state import STATE


class GateError(Exception):
    """An error with a category and, where known, the file/line/revision at fault."""

    def __init__(self, kind, message, file=None, line=None, revision=None, detail=None):
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.file = file
        self.line = line
        self.revision = revision
        self.detail = detail


# --- locating errors in user files -------------------------------------------------------------
def _revision_for_path(path):
    script = STATE["script"]
    if script is None or path is None:
        return None
    try:
        real = os.path.realpath(path)
        for rev in script.walk_revisions("base", "heads"):
            if rev.path and os.path.realpath(rev.path) == real:
                return rev.revision
    except Exception:
        return None
    return None


def _is_user_file(path):
    root = STATE["root"]
    if not path or not root or not os.path.isabs(path) or not os.path.exists(path):
        return False
    real = os.path.realpath(path)
    if "site-packages" in real or "dist-packages" in real:
        return False
    return real.startswith(os.path.realpath(root) + os.sep)


def _relative(path):
    """A path as the repository names it, not where this run happened to check it out."""
    root = STATE["root"]
    if root and path:
        real, base = os.path.realpath(path), os.path.realpath(root)
        if real.startswith(base + os.sep):
            return os.path.relpath(real, base)
    return path


def _locate(exc):
    """(file, line) of the innermost frame in the user's project, for SyntaxError its own."""
    if isinstance(exc, SyntaxError) and exc.filename:
        return exc.filename, exc.lineno
    found = (None, None)
    tb = exc.__traceback__
    while tb is not None:
        fname = tb.tb_frame.f_code.co_filename
        if _is_user_file(fname):
            found = (fname, tb.tb_lineno)
        tb = tb.tb_next
    cause = exc.__cause__ or exc.__context__
    if found == (None, None) and cause is not None and cause is not exc:
        return _locate(cause)
    return found


def _error_payload(exc):
    if isinstance(exc, GateError):
        return {
            "kind": exc.kind,
            "message": exc.message,
            "file": exc.file,
            "line": exc.line,
            "revision": exc.revision,
            "detail": exc.detail,
        }
    if STATE["foreign"] is not None:
        foreign, STATE["foreign"] = STATE["foreign"], None
        return {"kind": "foreign_database", "message": foreign, "file": None, "line": None}
    file, line = _locate(exc)
    message = "".join(traceback.format_exception_only(type(exc), exc)).strip()
    # Only the user's own frames: the library frames in between say nothing they can act on.
    frames = [
        fr for fr in traceback.extract_tb(exc.__traceback__) if _is_user_file(fr.filename)
    ]
    detail = "".join(
        '  File "%s", line %s, in %s\n%s' % (_relative(fr.filename), fr.lineno, fr.name, ("    %s\n" % fr.line) if fr.line else "")
        for fr in frames[-6:]
    ) if frames else None
    # multidb: the database whose upgrade_<section>() / downgrade_<section>() failed.
    sections = STATE.get("sections") or []
    for fr in reversed(frames):
        prefix, _, section = fr.name.partition("_")
        if prefix in ("upgrade", "downgrade") and section in sections:
            message = "%s: %s" % (section, message)
            break
    return {
        "kind": "exception",
        "type": type(exc).__name__,
        "message": message,
        "file": file,
        "line": line,
        "revision": _revision_for_path(file),
        "detail": detail,
    }
