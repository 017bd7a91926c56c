"""Running migrations: upgrade, downgrade, setup (env.py alone), bootstrap, offline SQL."""

import io
import os
import re
import shutil
import tempfile
import time

from . import alembic_private
from .errors import GateError, _error_payload, _relative
from .observe import _start_observing
from .project import _flask_context, _release_flask_connections
from .state import STATE


# --- running migrations ------------------------------------------------------------------------
def _require_script():
    if STATE["script"] is None:
        exc = STATE["script_error"]
        raise GateError(
            "graph", "the revision scripts could not be loaded: %s" % (exc,)
        )
    return STATE["script"]


def _run(direction, target, migrate=True, observe=None, trace=False):
    from alembic.runtime.environment import EnvironmentContext

    script = _require_script()
    cfg = STATE["config"]
    _flask_context()
    started_migrations = []

    def fn(rev, context):
        started_migrations.append(True)
        if not migrate:
            return []
        if direction == "upgrade":
            return alembic_private.upgrade_revs(script, target, rev)
        return alembic_private.downgrade_revs(script, target, rev)

    started = time.perf_counter()
    STATE["catalog_write"] = False
    STATE["trace"] = [] if trace else None
    _start_observing(observe)
    env = EnvironmentContext(
        cfg,
        script,
        fn=fn,
        as_sql=False,
        starting_rev=None,
        destination_rev=target,
        tag=None,
    )
    try:
        with env:
            script.run_env()
    except GateError:
        raise
    except Exception as exc:
        if started_migrations:
            raise
        raise _setup_error(exc)
    finally:
        _release_flask_connections()
        observed, STATE["observe"] = STATE.get("observe"), None
        traced, STATE["trace"] = STATE.get("trace"), None
    result = {
        "ms": round((time.perf_counter() - started) * 1000, 2),
        "catalogWrite": STATE["catalog_write"],
        "versionTable": _version_table(env),
    }
    if observed is not None:
        result["locks"] = observed["events"]
    if traced is not None:
        result["statements"] = traced
    return result


def _version_table(env):
    try:
        ctx = env.get_context()
    except Exception:
        return None
    return {"schema": getattr(ctx, "version_table_schema", None), "name": getattr(ctx, "version_table", "alembic_version")}


def _setup_error(exc):
    """env.py failed before Alembic ran a single migration: its own code is at fault."""
    payload = _error_payload(exc)
    if payload.get("kind") != "exception":
        return GateError(payload["kind"], payload["message"], file=payload.get("file"), line=payload.get("line"), detail=payload.get("detail"))
    file, line = payload.get("file"), payload.get("line")
    where = ("%s line %s" % (_relative(file), line)) if file and line else "env.py"
    message = "%s raised before running any migration: %s" % (where, payload["message"])
    if isinstance(exc, KeyError) and exc.args and isinstance(exc.args[0], str) and exc.args[0] not in os.environ:
        message += (
            "\nenv.py reads the environment variable %s, which is not set. If it holds the database URL, "
            "pass --url-env %s (action input database-url-env) and alembic-gate sets it to the throwaway "
            "database; otherwise set it in the job's environment." % (exc.args[0], exc.args[0])
        )
    return GateError("setup", message, file=file, line=line, detail=payload.get("detail"))


def cmd_upgrade(req):
    return _run("upgrade", req["target"], observe=req.get("observe"), trace=bool(req.get("trace")))


def cmd_downgrade(req):
    return _run("downgrade", req["target"], observe=req.get("observe"), trace=bool(req.get("trace")))


def cmd_bootstrap(req):
    """--bootstrap models: the models' tables (target_metadata.create_all through env.py's own
    connection and configuration), stamped at the heads, for histories whose first revision
    expects tables that no revision creates."""
    from alembic.runtime.environment import EnvironmentContext

    script = _require_script()
    _flask_context()
    seen = {"metadata": None}

    def fn(rev, context):
        metadata = context.opts.get("target_metadata")
        if metadata is None:
            raise GateError(
                "bootstrap",
                "--bootstrap models needs the models: env.py sets no target_metadata. Pass --bootstrap "
                "with a schema-only SQL dump instead (pg_dump --schema-only --no-owner --no-privileges)",
            )
        for md in metadata if isinstance(metadata, (list, tuple)) else [metadata]:
            md.create_all(context.connection)
        seen["metadata"] = True
        return alembic_private.stamp_revs(script, "heads", rev)

    env = EnvironmentContext(STATE["config"], script, fn=fn, as_sql=False, starting_rev=None, destination_rev="heads", tag=None)
    try:
        with env:
            script.run_env()
    finally:
        _release_flask_connections()
    return {"versionTable": _version_table(env)}


def cmd_setup(req):
    """env.py once, without migrations: the state a first revision starts from."""
    return _run("upgrade", "heads", migrate=False)


# --- offline SQL -------------------------------------------------------------------------------
def cmd_sql(req):
    """SQL that `alembic upgrade <from>:<to> --sql` (or downgrade) would print."""
    from alembic.runtime.environment import EnvironmentContext

    script = _require_script()
    cfg = STATE["config"]
    _flask_context()
    direction = req["direction"]
    start = req.get("from")
    dest = req["to"]
    buf = io.StringIO()
    previous = cfg.output_buffer
    cfg.output_buffer = buf

    def fn(rev, context):
        if direction == "upgrade":
            return alembic_private.upgrade_revs(script, dest, rev)
        return alembic_private.downgrade_revs(script, dest, rev)

    # multidb: the template's offline mode writes each section's SQL to <section>.sql in the
    # working directory (the project's own tree): those files are written to a directory of
    # ours instead, and read back.
    import builtins

    sections = STATE.get("sections")
    scratch = tempfile.mkdtemp(prefix="alembic-gate-sql-") if sections else None
    real_open = builtins.open

    def section_open(file, mode="r", *args, **kwargs):
        if isinstance(file, str) and not os.path.isabs(file) and file.endswith(".sql") and file[:-4] in sections and ("w" in mode or "a" in mode):
            file = os.path.join(scratch, file)
        return real_open(file, mode, *args, **kwargs)

    try:
        if scratch:
            builtins.open = section_open
        with EnvironmentContext(
            cfg,
            script,
            fn=fn,
            as_sql=True,
            starting_rev=start,
            destination_rev=dest,
            tag=None,
        ):
            script.run_env()
        sql = buf.getvalue()
        if scratch:
            for name in sorted(os.listdir(scratch), key=lambda n: (sections.index(n[:-4]) if n[:-4] in sections else len(sections), n)):
                if name.endswith(".sql"):
                    with open(os.path.join(scratch, name), encoding="utf-8", errors="replace") as f:
                        text = f.read()
                    # One file's transaction around its revisions, as one database sees it.
                    text = re.sub(r"\s*COMMIT;\s*\Z", "\n", re.sub(r"\A\s*BEGIN;\s*", "", text))
                    # Each revision's part names its database, after Alembic's "-- Running" line.
                    sql += re.sub(r"^(-- Running (?:upgrade|downgrade) .*)$", lambda m: "%s\n-- database %s" % (m.group(1), name[:-4]), text, flags=re.M)
    finally:
        if scratch:
            builtins.open = real_open
            shutil.rmtree(scratch, ignore_errors=True)
        cfg.output_buffer = previous
        _release_flask_connections()
    return {"sql": sql}
