"""Loading the project (cmd_load): Alembic's imports announced, revision files checked as they
are read, the connection guard installed, the scripts read once; and the Flask app context."""

import os
import sys

from . import alembic_private
from .config import _alembic_option, _multidb_sections, _new_config
from .errors import GateError, _error_payload, _relative
from .graph import _graph
from .guard import _install_connection_guard, _install_driver_patches
from .irreversible import _count_statement, _guard_downgrades
from .observe import _observe_locks, _transaction_ended
from .protocol import _send, _versions
from .state import STATE


# --- loading the project -----------------------------------------------------------------------
def _announce_imports():
    """Tell the gate which file Alembic is importing (revision files, env.py), so a file that
    blocks at import is named when the step times out."""
    from alembic import util as alembic_util

    original = alembic_util.load_python_file
    if getattr(original, "_alembic_gate", False):
        return

    def load_python_file(dir_, filename, *args, **kwargs):
        path = os.path.join(dir_, filename)
        root = STATE.get("root")
        shown = os.path.relpath(path, root) if root and os.path.abspath(path).startswith(os.path.abspath(root) + os.sep) else path
        _send({"event": "loading", "file": shown})
        try:
            return original(dir_, filename, *args, **kwargs)
        finally:
            _send({"event": "loading", "file": None})

    load_python_file._alembic_gate = True
    alembic_util.load_python_file = load_python_file


RESERVED_REVISION_IDS = ("base", "head", "heads")


def _record_scripts():
    """Which file declared which revision id: Alembic keeps one of two files with the same id
    (with a warning), and fails on reserved ids with an AssertionError that names no file."""
    from alembic.script import base as script_base

    Script = script_base.Script
    if getattr(Script, "_alembic_gate", False):
        return
    declared = STATE.setdefault("declared", {})

    def wrap(name, func):
        def loader(cls, scriptdir, *args):
            path = os.path.join(*args) if len(args) > 1 else str(args[0])
            if os.path.islink(path) and _outside_tree(path):
                raise GateError(
                    "graph",
                    "is a symlink to %s, outside the repository: the gate runs only migrations the repository holds; commit the file itself" % os.path.realpath(path),
                    file=path,
                )
            try:
                sc = func(cls, scriptdir, *args)
            except Exception as exc:
                if type(exc).__name__ == "RevisionError" and "not allowed in revision identifier" in str(exc):
                    raise GateError("graph", "%s; give the revision an id of letters, digits and underscores (and update the down_revision that names it)" % (exc,), file=path)
                raise
            if sc is not None:
                if sc.revision in RESERVED_REVISION_IDS:
                    raise GateError(
                        "graph",
                        "revision id %r is reserved by Alembic (%s): give the revision another id (and update the down_revision that names it)"
                        % (sc.revision, ", ".join(RESERVED_REVISION_IDS)),
                        file=path,
                    )
                paths = declared.setdefault(sc.revision, [])
                if os.path.abspath(path) not in paths:
                    paths.append(os.path.abspath(path))
            return sc

        alembic_private.replace_script_loader(Script, name, loader)

    for name, func in alembic_private.script_loaders(Script):  # _from_filename, _from_path
        wrap(name, func)
    Script._alembic_gate = True


def _outside_tree(path):
    root = STATE.get("root")
    if not root:
        return False
    real, base = os.path.realpath(path), os.path.realpath(root)
    return real != base and not real.startswith(base + os.sep)


def _script_dirs_outside(script):
    """The script directory or version locations that resolve outside the tree (an absolute
    path, '..', a committed symlink), as (shown, resolved) pairs."""
    found = []
    try:
        locations = [str(p) for p in alembic_private.version_locations(script)]
    except Exception:
        locations = []
    raw = _alembic_option(STATE["config"], "script_location") or script.dir
    labelled = [("script_location = %s" % raw, script.dir)] + [("version_locations entry %s" % d, d) for d in locations]
    for label, d in labelled:
        if _outside_tree(d) and all(r != os.path.realpath(d) for _, r in found):
            found.append((label, os.path.realpath(d)))
    return found


def cmd_load(req):
    STATE["root"] = req.get("projectRoot") or os.path.dirname(os.path.abspath(req["config"]))
    # As `python -m alembic` from the ini's directory (or `flask db` from the project's): cwd and
    # sys.path[0] are that directory.
    root = req.get("cwd") or os.path.dirname(os.path.abspath(req["config"]))
    os.chdir(root)
    if root not in sys.path:
        sys.path.insert(0, root)

    from alembic.script import ScriptDirectory

    _announce_imports()
    _record_scripts()
    # Before any of the project's code is imported: revision files and the modules they import
    # may build engines (or connect) at import.
    _install_connection_guard()
    _install_driver_patches()
    cfg = _new_config(req)
    STATE["config"] = cfg
    STATE["flask"] = {"app": req.get("flaskApp"), "ctx": None, "url": None} if req.get("shape") == "flask" else None
    outside = None
    try:
        script = ScriptDirectory.from_config(cfg)
        bad = _script_dirs_outside(script)
        if bad:
            # Refused before a revision file is imported: nothing outside the repository runs.
            where = _relative(cfg.config_file_name or getattr(cfg, "toml_file_name", None) or req["config"])
            outside = GateError(
                "config",
                "%s sets %s, which resolves to %s, outside the repository: the gate runs only the migrations the repository holds; "
                "point script_location (and version_locations) at a directory inside it, without '..' or a symlink leading out"
                % (where, bad[0][0], bad[0][1]),
                file=req["config"],
            )
            raise outside
        STATE["script"] = script
        # Load every revision file now (the revision map is lazy).
        script.revision_map.heads  # noqa: B018
        _guard_downgrades(script)
    except Exception as exc:
        if exc is outside:
            raise
        STATE["script"] = None
        STATE["script_error"] = exc
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    event.listen(Engine, "before_cursor_execute", _count_statement)
    event.listen(Engine, "after_cursor_execute", _observe_locks)
    event.listen(Engine, "commit", _transaction_ended)
    event.listen(Engine, "rollback", _transaction_ended)
    STATE["sections"] = _multidb_sections(cfg)
    return {"versions": _versions(), "graph": _graph(), "databases": STATE["sections"], "url": _project_url(cfg, bool(req.get("probeAppUrl")))}


def _project_url(cfg, probe_app):
    """The scheme (dialect+driver) of the URL the project's configuration names, for the gate to
    pick its engine: sqlalchemy.url (interpolated; a multidb ini's first section's), else the
    Flask app's SQLALCHEMY_DATABASE_URI when `probe_app` (the head, with no URL in the ini).
    Only `scheme://`: credentials never leave the worker."""
    url = None
    try:
        url = cfg.get_main_option("sqlalchemy.url")
        if not url and STATE["sections"]:
            url = cfg.get_section_option(STATE["sections"][0], "sqlalchemy.url")
    except Exception:
        url = None
    if not url and probe_app and STATE.get("flask") is not None:
        url = _flask_url()
    if not url or "://" not in str(url):
        return None
    return str(url).split("://", 1)[0] + "://"


def _flask_url():
    """The database URI the project's Flask app configures (built once here, then dropped; the
    gate builds it again after it set DATABASE_URL)."""
    from .state import ROUTE

    # No database is handed out yet: a factory that connects (create_all() at start-up) is refused.
    saved = {k: ROUTE.get(k) for k in ("twin", "mode", "engine")}
    foreign = STATE.get("foreign")
    ROUTE.update(twin={"host": "", "port": "0", "user": "", "database": ""}, mode="refuse", engine="none")
    try:
        from flask.cli import ScriptInfo, load_dotenv

        load_dotenv()
        app = ScriptInfo(app_import_path=STATE["flask"]["app"] or os.environ.get("FLASK_APP")).load_app()
        return app.config.get("SQLALCHEMY_DATABASE_URI")
    except BaseException:  # a broken app is reported where it is built for real
        return None
    finally:
        ROUTE.update(saved)
        STATE["foreign"] = foreign


# --- Flask-Migrate: env.py runs inside the app's context -----------------------------------------
def _flask_context():
    """Builds the Flask app the way the `flask` command does and keeps its context pushed, so
    env.py finds current_app.extensions['migrate']. Built on first use, after the gate set
    DATABASE_URL; rebuilt when the database changes (the app reads its URL when it is made)."""
    flask = STATE.get("flask")
    if flask is None or (flask["ctx"] is not None and flask["url"] == STATE["url"]):
        return
    if flask["ctx"] is not None:
        _drop_flask_app(flask)
    from flask.cli import NoAppException, ScriptInfo, load_dotenv

    load_dotenv()
    target = flask["app"] or os.environ.get("FLASK_APP")
    try:
        app = ScriptInfo(app_import_path=target).load_app()
    except NoAppException as exc:
        raise GateError(
            "setup",
            "could not find the Flask app (%s): set FLASK_APP in the job's environment, or pass "
            "--flask-app (action input flask-app), e.g. --flask-app 'myapp:create_app()'" % exc,
        )
    except GateError:
        raise
    except Exception as exc:
        payload = _error_payload(exc)
        raise GateError(
            "setup",
            "building the Flask app (%s) failed: %s" % (target or "app.py / wsgi.py", payload["message"]),
            file=payload.get("file"),
            line=payload.get("line"),
            detail=payload.get("detail"),
        )
    migrate = app.extensions.get("migrate")
    if migrate is None:
        raise GateError(
            "setup",
            "the Flask app %s has no Flask-Migrate extension: its factory should call Migrate(app, db) "
            "or migrate.init_app(app, db)" % (target or app.import_name),
        )
    ctx = app.app_context()
    ctx.push()
    flask.update(ctx=ctx, url=STATE["url"], migrate=migrate)
    configure = getattr(migrate, "call_configure_callbacks", None)
    if configure is not None:
        configure(STATE["config"])  # @migrate.configure hooks, as `flask db` runs them


def _release_flask_connections():
    """Flask-SQLAlchemy's engine pools its connections; a `flask db` process would end and close
    them. Closing them after each step gives the database back between steps, as then."""
    flask = STATE.get("flask")
    if not flask or flask.get("ctx") is None:
        return
    try:
        db = getattr(flask.get("migrate"), "db", None)
        engines = getattr(db, "engines", None)
        for engine in (engines.values() if engines else [getattr(db, "engine", None)]):
            if engine is not None:
                engine.dispose()
    except Exception:
        pass


def _drop_flask_app(flask):
    root = os.path.realpath(STATE["root"] or ".") + os.sep
    _release_flask_connections()
    try:
        flask["ctx"].pop()
    except Exception:
        pass
    flask.update(ctx=None, url=None, migrate=None)
    # The next build imports the project afresh, as a new `flask db upgrade` process would.
    for name, module in list(sys.modules.items()):
        path = getattr(module, "__file__", None)
        if path and os.path.realpath(path).startswith(root):
            del sys.modules[name]
