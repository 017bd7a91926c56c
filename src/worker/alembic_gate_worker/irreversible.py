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
