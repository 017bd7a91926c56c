"""Revisions that never downgrade, told apart from downgrades that crash."""

import traceback

from .errors import GateError, _locate, _relative
from .state import STATE


# --- irreversible revisions --------------------------------------------------------------------
# Some projects never downgrade: no downgrade() at all, or one that raises on purpose. Such a
# revision is reported as irreversible, not as a downgrade that crashed: the downgrade() of each
# revision is wrapped once, when the scripts are loaded.
def _count_statement(conn, cursor, statement, parameters, context, executemany):
    STATE["statements"] += 1
    trace = STATE.get("trace")
    if trace is not None:
        _trace_statement(trace, statement, parameters, executemany)


# Reads (batch mode reflects the table it copies) are not part of what a revision does.
_READS = ("SELECT", "PRAGMA", "SAVEPOINT", "RELEASE", "ROLLBACK", "BEGIN", "COMMIT", "WITH")


def _literal(value):
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, (int, float)):
        return repr(value)
    return "'%s'" % str(value).replace("'", "''")


def _trace_statement(trace, statement, parameters, executemany):
    """The statement as the SQL preview shows it: qmark parameters written in (sqlite3's style)."""
    text = statement.strip()
    if not text or text.split(None, 1)[0].upper() in _READS:
        return
    rows = parameters if executemany else [parameters]
    for row in rows or [()]:
        out = text
        if isinstance(row, (list, tuple)) and row and out.count("?") == len(row):
            for value in row:
                out = out.replace("?", _literal(value), 1)
        trace.append(out.rstrip(";") + ";")


def _guard_downgrades(script):
    for sc in script.walk_revisions("base", "heads"):
        module = getattr(sc, "module", None)
        if module is not None:
            module.downgrade = _guarded_downgrade(sc, module.__dict__.get("downgrade"))


def _guarded_downgrade(sc, original):
    file = _relative(sc.path)

    def downgrade(*args, **kwargs):
        if original is None:
            raise GateError("irreversible", "it has no downgrade()", file=sc.path, revision=sc.revision)
        before = STATE["statements"]
        try:
            return original(*args, **kwargs)
        except RuntimeError as exc:  # NotImplementedError included
            if STATE["statements"] != before:
                raise
            _, line = _locate(exc)
            what = "".join(traceback.format_exception_only(type(exc), exc)).strip()
            raise GateError(
                "irreversible",
                "its downgrade() raises %s before touching the database (%s%s)" % (what, file, " line %s" % line if line else ""),
                file=sc.path,
                line=line,
                revision=sc.revision,
            )

    return downgrade
