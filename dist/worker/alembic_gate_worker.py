"""alembic-gate worker: runs Alembic in-process for one source tree.

Spoken to over line-delimited JSON: one request per line on a private copy of the original
stdin, one response per line on a private copy of the original stdout. Before any user code
runs, file descriptor 0 is pointed at /dev/null (an `input()` in a migration gets EOF instead of
reading the protocol) and descriptor 1 at stderr (prints from env.py, models or migrations,
Python or C level, cannot corrupt the protocol); the private copies are not inherited by the
processes user code starts.

Every process user code starts ends with the worker: it is a child subreaper (orphans of
double-forked or setsid daemons are re-parented to it, not to init), and on exit, or as soon as
the gate's end of the request channel closes (the gate was killed), it stops and kills all of
its descendants.

It loads the user's alembic.ini and env.py unmodified, the way `python -m alembic` would from
the ini's directory, and keeps one ScriptDirectory for the life of the process so revision
files are read once, not once per step.
"""

import argparse
import ast
import hashlib
import io
import json
import os
import re
import shutil
import sys
import tempfile
import time
import traceback

PROTOCOL_VERSION = 1

# --- protocol channel ------------------------------------------------------------------------
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


# --- state -----------------------------------------------------------------------------------
STATE = {
    "config": None,  # alembic Config
    "script": None,  # ScriptDirectory, loaded once
    "script_error": None,
    "root": None,  # directory of alembic.ini
    "allowed": None,  # {"host","port","database"} of the throwaway database
    "catalog_write": False,  # set by _watch_catalog_writes during a step
    "foreign": None,  # description of a refused connection, if any
    "url": None,
    "statements": 0,  # SQL statements executed so far (see _guarded_downgrade)
    "flask": None,  # Flask-Migrate: {"app", "ctx", "url", "migrate"} (see _flask_context)
}


def _versions():
    import alembic
    import sqlalchemy

    return {
        "python": sys.version.split()[0],
        "executable": sys.executable,
        "alembic": alembic.__version__,
        "sqlalchemy": sqlalchemy.__version__,
    }


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


# --- where every connection lands ---------------------------------------------------------------
# The gate decides where the project's connections go. Every PostgreSQL connection made while a
# step runs is routed to the worker's current throwaway database (its "twin"), whatever URL
# env.py, a settings module or a migration names: through SQLAlchemy (do_connect, any driver),
# and through the drivers' own connect functions (psycopg2, psycopg 3, asyncpg), which is where
# engines built with creator= and raw DBAPI connections go. A URL the gate handed out earlier
# (a settings object read at import, before a rebuild) lands on the current database too.
# Whatever gets past both is caught on the live connection: every new pooled connection is
# asked which database and server it is on before SQLAlchemy uses it, and one that is not the
# twin is closed and refused.
ROUTE = {
    "mode": "redirect",  # or "refuse": a URL the gate did not hand out fails the step
    "twin": None,  # {"host","port","user","password","database","sslmode"} of the current database
    "marker": None,  # the gate server's start time (microseconds): only it has this one
    "ours": set(),  # (port, database) of every database the gate handed out
    # multidb: the current twin of each ini section but the first, and the section of every
    # (port, database) handed out for one, so a stale URL lands on its own section's twin.
    "sections": {},
    "section_of": {},
    "env": set(),  # environment variables the gate set (the job had not)
    "hosts": set(),  # host spellings of the gate's server
    "claimed": None,  # the one foreign identity redirected to the twin (one database per run)
    "noticed": set(),
    "notices": [],  # not yet sent to the gate
    "verified": None,  # id() of the reused connection, checked once
}

_LOOPBACK = {"127.0.0.1", "localhost", "::1", ""}
# libpq keywords (and the drivers' spellings) that say where and as whom to connect: replaced
# by the twin's, never passed on.
_WHERE = (
    "host", "hostaddr", "port", "dbname", "database", "db", "user", "username", "password",
    "passfile", "service", "sslmode", "sslcert", "sslkey", "sslrootcert", "sslpassword",
    "sslcrl", "target_session_attrs", "dsn", "unix_sock", "unix_socket",
)


def _where_of(params):
    """(host, port, database, user) a libpq-style parameter dict points at."""
    host = params.get("host") or params.get("hostaddr") or params.get("unix_sock") or params.get("unix_socket") or ""
    user = params.get("user") or params.get("username") or ""
    database = params.get("dbname") or params.get("database") or params.get("db") or user
    return str(host), str(params.get("port") or "5432"), str(database), str(user)


def _describe_where(where, scheme="postgresql"):
    host, port, database, user = where
    shown = host if host and not host.startswith("/") else ("localhost" if not host else "[socket %s]" % host)
    return "%s://%s%s:%s/%s" % (scheme, ("%s@" % user) if user else "", shown, port, database)


def _is_ours(where):
    host, port, database, _ = where
    return host in ROUTE["hosts"] and (port, database) in ROUTE["ours"]


def _who_connects():
    """The project file that opened the connection (innermost user frame), for the notice."""
    for frame in reversed(traceback.extract_stack()[:-2]):
        if _is_user_file(frame.filename):
            return _relative(frame.filename)
    return "the project's code"


def _route(where, scheme="postgresql"):
    """The twin to connect to instead of `where`; raises if the connection must not be made."""
    twin = ROUTE["twin"]
    if twin is None:
        return None
    if _is_ours(where):
        section = ROUTE["section_of"].get((where[1], where[2]))
        return ROUTE["sections"].get(section) or twin
    shown = _describe_where(where, scheme)
    if ROUTE["mode"] == "refuse":
        STATE["foreign"] = (
            "%s tried to connect to %s, which is not the gate's throwaway database; "
            "alembic-gate refused the connection (--foreign-connections refuse). Make env.py take its URL "
            "from config.get_main_option('sqlalchemy.url') or from the DATABASE_URL environment variable "
            "(alembic-gate sets both), name the variable env.py reads with --url-env, or let the gate "
            "redirect the connection (--foreign-connections redirect, the default)." % (_who_connects(), shown)
        )
        raise GateError("foreign_database", STATE["foreign"])
    key = where[:3]
    if ROUTE["claimed"] is None:
        ROUTE["claimed"] = key
    elif ROUTE["claimed"] != key:
        STATE["foreign"] = (
            "%s connected to %s as well as to %s: alembic-gate redirects one database it was not told of "
            "to the run's throwaway twin, so it refused the second. For a project of several databases, "
            "name each in an ini section of its own with its sqlalchemy.url and list them in the "
            "`databases` option, as `alembic init -t multidb` does: every section then gets a twin." % (_who_connects(), shown, _describe_where(ROUTE["claimed"] + ("",)))
        )
        raise GateError("foreign_database", STATE["foreign"])
    if key not in ROUTE["noticed"]:
        ROUTE["noticed"].add(key)
        ROUTE["notices"].append("%s connected to %s; redirected to its throwaway twin" % (_who_connects(), shown))
    return twin


def _routed_params(params, twin, database_key="dbname"):
    out = {k: v for k, v in params.items() if k not in _WHERE}
    out.update(host=twin["host"], port=int(twin["port"]), user=twin["user"])
    out[database_key] = twin["database"]
    if twin.get("password"):
        out["password"] = twin["password"]
    if twin.get("sslmode"):
        out["sslmode"] = twin["sslmode"]
    return out


def _refuse_engine(scheme, where):
    STATE["foreign"] = (
        "%s connected to %s: alembic-gate provides a throwaway PostgreSQL database only, so it refused "
        "the connection. If production runs on PostgreSQL, point env.py at sqlalchemy.url or DATABASE_URL; "
        "otherwise the project cannot be gated yet." % (_who_connects(), where)
    )
    raise GateError("foreign_database", STATE["foreign"])


def _on_do_connect(dialect, conn_rec, cargs, cparams):
    if ROUTE["twin"] is None:
        return None
    name = getattr(dialect, "name", "?")
    driver = getattr(dialect, "driver", None)
    if name != "postgresql":
        _refuse_engine(name, "%s (%s)" % (name, cparams.get("database") or cparams.get("db") or "?"))
    params = dict(cparams)
    dsn = params.get("dsn") or (cargs[0] if cargs and isinstance(cargs[0], str) else None)
    if dsn:
        params.update({k: v for k, v in _parse_conninfo(dsn).items() if k not in params or not params[k]})
    twin = _route(_where_of(params))
    routed = _routed_params(params, twin, "dbname" if driver in ("psycopg2", "psycopg") else "database")
    cargs[:] = []
    cparams.clear()
    cparams.update(routed)
    return _reused_connection(dialect, cargs, cparams)


def _parse_conninfo(dsn):
    """libpq conninfo (key=value or a postgresql:// URI) as a dict, without a driver."""
    from urllib.parse import parse_qsl, unquote, urlsplit

    dsn = dsn.strip()
    if "://" in dsn:
        u = urlsplit(dsn)
        out = dict(parse_qsl(u.query))
        netloc = u.netloc.rsplit("@", 1)
        if len(netloc) == 2:
            user, _, password = netloc[0].partition(":")
            out.setdefault("user", unquote(user))
            if password:
                out.setdefault("password", unquote(password))
        hostport = netloc[-1]
        if hostport:
            host, _, port = hostport.rpartition(":") if not hostport.endswith("]") else (hostport, "", "")
            if not host:
                host, port = port, ""
            out.setdefault("host", unquote(host.strip("[]")))
            if port:
                out.setdefault("port", port)
        if u.path.strip("/"):
            out.setdefault("dbname", unquote(u.path.lstrip("/")))
        return out
    out = {}
    for m in re.finditer(r"(\w+)\s*=\s*('(?:[^'\\]|\\.)*'|\S*)", dsn):
        value = m.group(2)
        if value.startswith("'"):
            value = re.sub(r"\\(.)", r"\1", value[1:-1])
        out[m.group(1)] = value
    return out


# The drivers' own connect functions: where creator= and raw DBAPI connections go.
def _patch_psycopg2(mod):
    original = mod.connect
    if getattr(original, "_alembic_gate", False):
        return

    def connect(dsn=None, connection_factory=None, cursor_factory=None, **kwargs):
        extra = {k: kwargs.pop(k) for k in ("async", "async_") if k in kwargs}
        if ROUTE["twin"] is not None:
            params = _parse_conninfo(dsn or "")
            params.update({k: v for k, v in kwargs.items() if v is not None})
            twin = _route(_where_of(params))
            kwargs, dsn = _routed_params(params, twin, "dbname"), None
        return original(dsn, connection_factory=connection_factory, cursor_factory=cursor_factory, **extra, **kwargs)

    connect._alembic_gate = True
    mod.connect = connect


def _patch_psycopg(mod):
    own = ("autocommit", "prepare_threshold", "context", "row_factory", "cursor_factory")
    for cls in (getattr(mod, "Connection", None), getattr(mod, "AsyncConnection", None)):
        if cls is None or getattr(cls.connect, "_alembic_gate", False):
            continue
        original = cls.__dict__["connect"].__func__

        def connect(cls, conninfo="", _original=original, **kwargs):
            if ROUTE["twin"] is not None:
                options = {k: kwargs.pop(k) for k in own if k in kwargs}
                params = _parse_conninfo(conninfo or "")
                params.update({k: v for k, v in kwargs.items() if v is not None})
                twin = _route(_where_of(params))
                kwargs, conninfo = dict(_routed_params(params, twin, "dbname"), **options), ""
            return _original(cls, conninfo, **kwargs)

        connect._alembic_gate = True
        cls.connect = classmethod(connect)
    if hasattr(mod, "Connection"):
        mod.connect = mod.Connection.connect


def _patch_asyncpg(mod):
    original = mod.connect
    if getattr(original, "_alembic_gate", False):
        return

    async def connect(dsn=None, **kwargs):
        if ROUTE["twin"] is not None:
            params = _parse_conninfo(dsn or "")
            params.update({k: v for k, v in kwargs.items() if k in _WHERE and v is not None})
            twin = _route(_where_of(params))
            kwargs = {k: v for k, v in kwargs.items() if k not in _WHERE and k != "ssl"}
            kwargs.update(host=twin["host"], port=int(twin["port"]), user=twin["user"], database=twin["database"])
            if twin.get("password"):
                kwargs["password"] = twin["password"]
            dsn = None
        return await original(dsn, **kwargs)

    connect._alembic_gate = True
    mod.connect = connect


_DRIVER_PATCHES = {"psycopg2": _patch_psycopg2, "psycopg": _patch_psycopg, "asyncpg": _patch_asyncpg}


class _DriverImportHook:
    """Patches a driver when it is first imported (importing all of them up front costs time)."""

    def __init__(self):
        self.busy = set()

    def find_spec(self, name, path=None, target=None):
        if name not in _DRIVER_PATCHES or name in self.busy:
            return None
        import importlib.util

        self.busy.add(name)
        try:
            spec = importlib.util.find_spec(name)
        finally:
            self.busy.discard(name)
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return spec
        loader = spec.loader

        class Patching:
            def create_module(self, spec):
                return loader.create_module(spec)

            def exec_module(self, module):
                loader.exec_module(module)
                _DRIVER_PATCHES[name](module)

        spec.loader = Patching()
        return spec


def _install_driver_patches():
    for name, patch in _DRIVER_PATCHES.items():
        if name in sys.modules:
            patch(sys.modules[name])
    sys.meta_path.insert(0, _DriverImportHook())


def _verify_connection(dbapi_connection, connection_record):
    """The fail-closed check: a new connection must be on the twin before anything runs on it."""
    twin = ROUTE["twin"]
    if twin is None or id(dbapi_connection) == ROUTE["verified"]:
        return
    row = None
    try:
        cur = dbapi_connection.cursor()
        cur.execute("SELECT current_database(), (extract(epoch FROM pg_postmaster_start_time()) * 1000000)::bigint::text")
        row = cur.fetchone()
        cur.close()
        dbapi_connection.rollback()
    except Exception:
        row = None
    twins = {twin["database"]} | {t["database"] for t in ROUTE["sections"].values()}
    if row is not None and str(row[0]) in twins and str(row[1]) == ROUTE["marker"]:
        if dbapi_connection is _REUSE["conn"]:
            ROUTE["verified"] = id(dbapi_connection)
        return
    info = getattr(dbapi_connection, "info", None)  # psycopg2 2.8+, psycopg 3
    where = None
    if info is not None and getattr(info, "dbname", None):
        where = _describe_where((str(getattr(info, "host", "") or ""), str(getattr(info, "port", "") or "5432"), str(info.dbname), str(getattr(info, "user", "") or "")))
    try:
        dbapi_connection.close()
    except Exception:
        pass
    on = where or (("database %s of another server" % row[0]) if row is not None else "a server the gate could not identify")
    STATE["foreign"] = (
        "%s opened a database connection that bypassed alembic-gate's redirect and landed on %s, "
        "not on the gate's throwaway database; alembic-gate closed it before any statement of the "
        "project's ran. Build the engine from sqlalchemy.url or DATABASE_URL (or with psycopg2, "
        "psycopg or asyncpg), which the gate redirects." % (_who_connects(), on)
    )
    raise GateError("foreign_database", STATE["foreign"])


def _install_connection_guard():
    from sqlalchemy import event
    from sqlalchemy.engine import Engine
    from sqlalchemy.pool import Pool

    event.listen(Engine, "do_connect", _on_do_connect)
    event.listen(Pool, "connect", _verify_connection, insert=True)
    event.listen(Engine, "before_cursor_execute", _watch_catalog_writes)
    _install_connection_reuse()


# --- one connection for consecutive steps ------------------------------------------------------
# env.py usually builds an engine with NullPool on every run, so each step would open a new
# PostgreSQL session: a backend fork, authentication and cold catalog caches, about 5 ms a
# step on the server, three steps a revision. The gate keeps one psycopg2 connection to the
# throwaway database instead: do_connect hands it out while it is idle, and the dialect's
# close puts it back after resetting the session (ROLLBACK, DISCARD ALL, psycopg2's reset:
# temp tables, settings, roles, advisory locks, prepared statements and the connection's
# autocommit/isolation all back to a new session's). A second connection open at the same
# time, another driver, or a connection that fails its reset gets the ordinary path.
_REUSE = {"key": None, "conn": None, "busy": False}


def _reused_connection(dialect, cargs, cparams):
    if getattr(dialect, "driver", None) != "psycopg2":
        return None
    key = (tuple(cargs), tuple(sorted((k, repr(v)) for k, v in cparams.items())))
    conn = _REUSE["conn"]
    if conn is not None:
        if _REUSE["busy"]:
            return None  # a second connection at once: an ordinary one
        if _REUSE["key"] == key and not conn.closed:
            _REUSE["busy"] = True
            return conn
        _forget_reused()
    conn = dialect.connect(*cargs, **cparams)
    _REUSE.update(key=key, conn=conn, busy=True)
    return conn


def _forget_reused():
    conn = _REUSE["conn"]
    ROUTE["verified"] = None
    _REUSE.update(key=None, conn=None, busy=False)
    if conn is not None:
        try:
            conn.close()
        except Exception:
            pass


def _reset_session(conn):
    conn.rollback()
    conn.autocommit = True
    cur = conn.cursor()
    cur.execute("DISCARD ALL")
    cur.close()
    conn.reset()  # autocommit off, default isolation level, RESET ALL


def _install_connection_reuse():
    from sqlalchemy.engine.default import DefaultDialect

    close = DefaultDialect.do_close
    terminate = getattr(DefaultDialect, "do_terminate", None)  # SQLAlchemy 1.4.?+

    def do_close(self, dbapi_connection):
        if dbapi_connection is not None and dbapi_connection is _REUSE["conn"]:
            try:
                _reset_session(dbapi_connection)
                _REUSE["busy"] = False
                return
            except Exception:
                _forget_reused()
                return
        return close(self, dbapi_connection)

    def do_terminate(self, dbapi_connection):
        # An invalidated connection (lost, or in an unknown state): never handed out again.
        if dbapi_connection is not None and dbapi_connection is _REUSE["conn"]:
            _forget_reused()
            return
        return terminate(self, dbapi_connection)

    DefaultDialect.do_close = do_close
    if terminate is not None:
        DefaultDialect.do_terminate = do_terminate


# Statements that change the schema without DDL: writes to the system catalogs (the old
# "DELETE FROM pg_enum" way of removing an enum value) and role changes. The gate's
# incremental snapshots learn of schema changes from DDL event triggers, which these bypass;
# a step that ran one gets a whole snapshot instead.
_CATALOG_WRITE = re.compile(
    r"\b(?:insert\s+into|update|delete\s+from)\s+(?:\"?pg_catalog\"?\s*\.\s*)?\"?pg_[a-z_]+"
    r"|\b(?:create|alter|drop)\s+(?:role|user|group)\b",
    re.IGNORECASE,
)


# --- what each statement locks (the locks check) ---------------------------------------------
# While a step runs with an "observe" request, every statement the migration's own connection
# executes is followed by one catalog read on that same connection: the relation locks it holds
# on the tables that existed before the revision, and those tables' relfilenode (a change is a
# rewrite of the table's storage). Locks are held until the transaction ends, so a lock seen
# for the first time belongs to the statement that just ran.
def _start_observing(observe):
    if not observe:
        STATE["observe"] = None
        return
    # multidb: the tables of each section's database, by database (oids are per database).
    by_database = {}
    for t in observe.get("tables", []):
        by_database.setdefault(t.get("database") or "", []).append(t)
    STATE["observe"] = {
        "versionTable": observe.get("versionTable"),
        "events": [],
        "databases": {name: _observed_tables(ts) for name, ts in by_database.items()},
    }


def _observed_tables(listed):
    tables = {int(t["oid"]): t for t in listed}
    # A statement that names none of these tables cannot lock or rewrite one of them (a foreign
    # key names its parent; a cascade does not take locks this check reports): not probed.
    names = sorted({t["name"].split(".")[-1] for t in tables.values()}, key=len, reverse=True)
    return {
        "mentions": re.compile(r"\b(?:%s)\b" % "|".join(re.escape(n) for n in names), re.IGNORECASE) if names else None,
        "tables": tables,
        "filenodes": {oid: int(t["filenode"]) for oid, t in tables.items()},
        "held": {},  # (oid, mode) -> index of the event that took it
    }


def _observed_for(top, conn):
    """The observed tables of the database `conn` is on (the one database, or its multidb section's)."""
    databases = top["databases"]
    if "" in databases:
        return databases[""]
    try:
        name = conn.engine.url.database
    except Exception:
        name = None
    return databases.get(name) or databases.get((ROUTE.get("twin") or {}).get("database"))


def _revision_line():
    """The line of the revision file that is running (the innermost frame in a revision script)."""
    paths = STATE.get("revision_paths")
    if paths is None:
        paths = set()
        try:
            for sc in STATE["script"].walk_revisions("base", "heads"):
                paths.add(os.path.realpath(sc.path))
        except Exception:
            pass
        STATE["revision_paths"] = paths
    real = STATE.setdefault("realpaths", {})
    frame = sys._getframe(2)
    while frame is not None:
        name = frame.f_code.co_filename
        if name not in real:
            real[name] = os.path.realpath(name)
        if real[name] in paths:
            return _relative(name), frame.f_lineno
        frame = frame.f_back
    return None, None


# Statements that can take a lock stronger than ROW EXCLUSIVE or rewrite a table; others (queries,
# row changes, Alembic's own version-table statements) are not probed: the locks they take
# block nobody, and an exclusive lock still held when they run is known from the last probe.
_LOCKING = re.compile(r"^\s*(?:create|alter|drop|truncate|lock|vacuum|cluster|reindex|refresh|comment|do|call|select\s+\w+\s*\()", re.IGNORECASE)
_DATA = re.compile(r"^\s*(?:update|insert|delete|copy|merge)\b", re.IGNORECASE)


def _transaction_ended(*_args):
    top = STATE.get("observe")
    if top:
        for obs in top["databases"].values():
            obs["held"].clear()


def _observe_locks(conn, cursor, statement, parameters, context, executemany):
    top = STATE.get("observe")
    if not top or not isinstance(statement, str):
        return
    obs = _observed_for(top, conn)
    if not obs or not obs["tables"]:
        return
    if not _LOCKING.match(statement) or not obs["mentions"] or not obs["mentions"].search(statement):
        held = obs["held"]
        exclusive = sorted({held[k] for k in held if k[1] == "AccessExclusiveLock"})
        if exclusive and _DATA.match(statement) and not re.search(r"\b%s\b" % re.escape(top.get("versionTable") or "alembic_version"), statement):
            file, line = _revision_line()
            top["events"].append({"sql": statement.strip()[:400], "file": file, "line": line, "locks": [], "held": [], "rewritten": [], "afterExclusive": exclusive, "lockTimeout": None})
        return
    oids = ",".join(str(o) for o in obs["tables"])
    try:
        cur = conn.connection.cursor()
        try:
            cur.execute(
                "SELECT c.oid::int, c.relfilenode::int, l.mode, current_setting('lock_timeout') "
                "FROM pg_class c LEFT JOIN pg_locks l ON l.relation = c.oid AND l.pid = pg_backend_pid() "
                "AND l.locktype = 'relation' AND l.granted WHERE c.oid IN (%s)" % oids
            )
            rows = cur.fetchall()
        finally:
            try:
                cur.close()
            except Exception:
                pass
    except Exception:
        return
    now = {(int(r[0]), r[2]) for r in rows if r[2]}
    held = obs["held"]
    if any(key not in now for key in held):
        held.clear()  # a lock went away: the earlier transaction ended
    new = sorted(k for k in now if k not in held)
    rewritten = []
    for r in rows:
        oid, filenode = int(r[0]), int(r[1])
        if filenode != obs["filenodes"].get(oid, filenode):
            rewritten.append(oid)
            obs["filenodes"][oid] = filenode
    exclusive_before = sorted({held[k] for k in held if k[1] == "AccessExclusiveLock"})
    # Locks this statement needed but the transaction already held (an index built, a column
    # scanned, on a table an earlier statement locked): the statement keeps them longer.
    names = obs["tables"]
    already = sorted(
        k for k in now if k in held and re.search(r"\b%s\b" % re.escape(names[k[0]]["name"].split(".")[-1]), statement, re.IGNORECASE)
    )
    lock_timeout = rows[0][3] if rows else None
    if not new and not rewritten and not exclusive_before and not already:
        return
    file, line = _revision_line()
    index = len(top["events"])
    top["events"].append(
        {
            "sql": statement.strip()[:400],
            "file": file,
            "line": line,
            "locks": [{"table": names[o]["name"], "mode": m} for o, m in new],
            "held": [{"table": names[o]["name"], "mode": m} for o, m in already],
            "rewritten": [names[o]["name"] for o in rewritten],
            "afterExclusive": exclusive_before,
            "lockTimeout": lock_timeout,
        }
    )
    for k in new:
        held[k] = index


def _watch_catalog_writes(conn, cursor, statement, parameters, context, executemany):
    if not STATE["catalog_write"] and isinstance(statement, str) and _CATALOG_WRITE.search(statement):
        STATE["catalog_write"] = True


# --- loading the project -----------------------------------------------------------------------
def _alembic_option(cfg, name):
    """An [alembic] option, or on Alembic 1.16+ one from pyproject.toml's [tool.alembic]."""
    getter = getattr(cfg, "get_alembic_option", None)
    return getter(name) if getter is not None else cfg.get_main_option(name)


def _new_config(req):
    """The Config `alembic` (or `flask db`) would build for this project."""
    from alembic.config import Config

    shape = req.get("shape") or "ini"
    ini = req.get("ini") if "ini" in req else os.path.abspath(req["config"])
    toml = req.get("toml")
    shown = _relative(req["config"])
    if ini and not os.path.isfile(ini):
        raise GateError("config", "no Alembic config at %s" % _relative(ini), file=ini)
    if toml:
        import alembic

        if "toml_file" not in Config.__init__.__code__.co_varnames:
            raise GateError(
                "config",
                "%s configures Alembic in [tool.alembic], which needs Alembic 1.16 or later; "
                "%s has Alembic %s. Upgrade Alembic in the project's environment (or pass --python "
                "with one that has it), or move the settings to alembic.ini."
                % (shown, sys.executable, alembic.__version__),
                file=toml,
            )
        cfg = Config(file_=ini, toml_file=toml)
    else:
        cfg = Config(ini)
    try:
        if shape == "flask":
            # As Flask-Migrate's Migrate.get_config: the scripts are the ini's own directory.
            cfg.set_main_option("script_location", os.path.dirname(ini).replace("%", "%%"))
            cfg.cmd_opts = argparse.Namespace(x=[])
        elif not _alembic_option(cfg, "script_location"):
            where = "its [tool.alembic] table" if toml else "its [alembic] section"
            raise GateError("config", "%s has no script_location in %s" % (shown, where), file=req["config"])
    except GateError:
        raise
    except Exception as exc:  # a malformed ini or toml
        raise GateError("config", "cannot read %s: %s" % (shown, exc), file=req["config"])
    return cfg


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

    def wrap(name):
        original = getattr(Script, name, None)
        if original is None:
            return
        func = original.__func__

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

        setattr(Script, name, classmethod(loader))

    wrap("_from_filename")
    wrap("_from_path")
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
        locations = [str(p) for p in script._version_locations]
    except Exception:
        locations = []
    raw = _alembic_option(STATE["config"], "script_location") or script.dir
    labelled = [("script_location = %s" % raw, script.dir)] + [("version_locations entry %s" % d, d) for d in locations]
    for label, d in labelled:
        if _outside_tree(d) and all(r != os.path.realpath(d) for _, r in found):
            found.append((label, os.path.realpath(d)))
    return found


def _duplicate_revisions():
    return sorted((rev, sorted(paths)) for rev, paths in STATE.get("declared", {}).items() if len(paths) > 1)


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
    return {"versions": _versions(), "graph": _graph(), "databases": STATE["sections"]}


def _section_of(token):
    """multidb: the ini section a context was configured for: env.py gives each its
    upgrade_token "<section>_upgrades" (and downgrade_token "<section>_downgrades")."""
    sections = STATE.get("sections") or []
    token = token or ""
    for suffix in ("_upgrades", "_downgrades"):
        if token.endswith(suffix) and token[: -len(suffix)] in sections:
            return token[: -len(suffix)]
    return None


def _multidb_sections(cfg):
    """The ini sections of an `alembic init -t multidb` project: the main option `databases`
    names them, each with its own sqlalchemy.url. None for a project of one database."""
    import re

    try:
        names = cfg.get_main_option("databases")
    except Exception:
        return None
    if not names:
        return None
    sections = [n for n in re.split(r",\s*", names.strip()) if n]
    try:
        for name in sections:
            if not (cfg.get_section(name) or {}).get("sqlalchemy.url"):
                return None
    except Exception:
        return None
    return sections


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


def _file_errors(script_dirs):
    """Import every .py under the version locations separately, so each bad file is named."""
    from alembic.util import load_python_file

    errors = []
    for directory in script_dirs:
        if not os.path.isdir(directory):
            continue
        for name in sorted(os.listdir(directory)):
            if not name.endswith(".py") or name.startswith("__"):
                continue
            try:
                load_python_file(directory, name)
            except Exception as exc:
                file, line = _locate(exc)
                errors.append(
                    {
                        "file": file or os.path.join(directory, name),
                        "line": line,
                        "message": "".join(
                            traceback.format_exception_only(type(exc), exc)
                        ).strip(),
                    }
                )
    return errors


def _version_dirs():
    cfg = STATE["config"]
    from alembic.script import ScriptDirectory

    loc = _alembic_option(cfg, "script_location")
    base = os.path.abspath(loc.replace("%(here)s", os.path.dirname(cfg.config_file_name or cfg.toml_file_name)))
    if ":" in loc and not os.path.isdir(base):
        # package resource form: "mypkg:migrations"
        try:
            base = ScriptDirectory.from_config(cfg).dir
        except Exception:
            pass
    dirs = [os.path.join(base, "versions")]
    extra = cfg.get_main_option("version_locations")
    if extra:
        sep = cfg.get_main_option("version_path_separator") or None
        splitter = {"os": os.pathsep, "space": " ", "newline": "\n", ":": ":", ";": ";"}.get(
            sep or "", None
        )
        parts = extra.split(splitter) if splitter else extra.replace(",", " ").split()
        dirs = [os.path.abspath(p.strip()) for p in parts if p.strip()]
    return dirs


_IDENTIFIERS = ("revision", "down_revision", "branch_labels", "depends_on")
_SQL_START = re.compile(
    r"^\s*(create|alter|drop|insert|update|delete|select|do|with|comment|grant|revoke|truncate|set|begin)\b",
    re.I,
)


def _canonicalise(tree):
    """What a revision's code means, not how it is spelled: u'' prefixes dropped, whitespace in
    SQL strings collapsed (not in PL/Python bodies, where indentation is code). In place: both
    functions of a file may share a module-level statement, and the change is idempotent."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant):
            node.kind = None
            value = node.value
            if isinstance(value, str) and _SQL_START.match(value) and not re.search(r"plpython", value, re.I):
                node.value = " ".join(value.split())
    return tree


def _bound_names(stmt):
    if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return {stmt.name}
    if isinstance(stmt, (ast.Import, ast.ImportFrom)):
        return {(a.asname or a.name).split(".")[0] for a in stmt.names}
    targets = []
    if isinstance(stmt, ast.Assign):
        targets = stmt.targets
    elif isinstance(stmt, (ast.AnnAssign, ast.AugAssign)):
        targets = [stmt.target]
    names = set()
    for t in targets:
        for n in ast.walk(t):
            if isinstance(n, ast.Name):
                names.add(n.id)
    return names


def _used_names(node):
    # `sa.Column` is an Attribute whose value is the Name `sa`: the walk reaches that Name too.
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}


def _import_lines(stmt, used):
    lines = []
    for a in stmt.names:
        if (a.asname or a.name).split(".")[0] not in used:
            continue
        alias = f" as {a.asname}" if a.asname else ""
        if isinstance(stmt, ast.ImportFrom):
            lines.append(f"from {'.' * (stmt.level or 0)}{stmt.module or ''} import {a.name}{alias}")
        else:
            lines.append(f"import {a.name}{alias}")
    return lines


def _strip_docstring(body):
    if (
        body
        and isinstance(body[0], ast.Expr)
        and isinstance(getattr(body[0], "value", None), ast.Constant)
        and isinstance(body[0].value.value, str)
    ):
        return body[1:]
    return body


def _function_code(tree, name):
    """The canonical source of `name` and of the module-level code it relies on: the helpers,
    constants and imports it names (transitively), and module-level statements that run on
    import. Import order, unused imports, comments, formatting and docstrings do not count."""
    module = _strip_docstring(list(tree.body))
    func = next(
        (s for s in module if isinstance(s, (ast.FunctionDef, ast.AsyncFunctionDef)) and s.name == name),
        None,
    )
    if func is None:
        return None
    binders = {}
    side_effects = []
    for stmt in module:
        if stmt is func:
            continue
        bound = _bound_names(stmt)
        if bound & set(_IDENTIFIERS) and isinstance(stmt, (ast.Assign, ast.AnnAssign)):
            continue  # revision identifiers: the graph compares them itself
        if bound:
            for n in bound:
                binders.setdefault(n, []).append(stmt)
        elif not isinstance(stmt, ast.Pass):
            side_effects.append(stmt)
    func = ast.FunctionDef(
        name=func.name,
        args=func.args,
        body=_strip_docstring(list(func.body)) or [ast.Pass()],
        decorator_list=func.decorator_list,
        returns=None,
        type_comment=None,
    )
    seen, order, included, pending = set(), [], set(), [func] + side_effects
    while pending:
        node = pending.pop()
        for n in sorted(_used_names(node)):
            if n in seen:
                continue
            seen.add(n)
            for stmt in binders.get(n, []):
                if id(stmt) not in included:  # a statement binding several names comes once
                    included.add(id(stmt))
                    order.append(stmt)
                    pending.append(stmt)
    parts, imports = [], set()
    for stmt in order:
        if isinstance(stmt, (ast.Import, ast.ImportFrom)):
            imports.update(_import_lines(stmt, seen))
        else:
            parts.append(stmt)
    body = sorted(parts, key=lambda s: s.lineno) + side_effects + [func]
    canonical = _canonicalise(ast.Module(body=body, type_ignores=[]))
    ast.fix_missing_locations(canonical)
    return "\n".join(sorted(imports) + [ast.unparse(canonical)])


def _code_hashes(path):
    """Per function: (hash, canonical code) of upgrade() and downgrade() with what they use."""
    try:
        with open(path, "rb") as fh:
            tree = ast.parse(fh.read(), filename=path)
    except Exception:
        return {}
    out = {}
    for name in ("upgrade", "downgrade"):
        code = _function_code(tree, name)
        if code is not None:
            out[name] = (hashlib.sha256(code.encode("utf-8")).hexdigest()[:16], code)
    return out


def _tuple(value):
    if value is None:
        return []
    if isinstance(value, (list, tuple, set, frozenset)):
        return sorted(str(v) for v in value)
    return [str(value)]


def _graph():
    script = STATE["script"]
    if script is None:
        exc = STATE["script_error"]
        errors = []
        try:
            errors = _file_errors(_version_dirs())
        except Exception:
            pass
        if not errors and exc is not None:
            payload = _error_payload(exc)
            errors = [
                {
                    "file": payload.get("file"),
                    "line": payload.get("line"),
                    "message": payload["message"],
                }
            ]
        return {"ok": False, "revisions": [], "heads": [], "errors": errors}
    duplicates = _duplicate_revisions()
    if duplicates:
        return {
            "ok": False,
            "revisions": [],
            "heads": [],
            "errors": [
                {
                    "file": paths[1],
                    "line": None,
                    "kind": "duplicate",
                    "message": "revision id %s is declared by %s and %s; Alembic silently keeps only one of them: give the other a new id (and update the down_revision that names it)"
                    % (rev, ", ".join(_relative(p) for p in paths[:-1]), _relative(paths[-1])),
                }
                for rev, paths in duplicates
            ],
        }
    revisions = []
    for sc in script.walk_revisions("base", "heads"):
        code = _code_hashes(sc.path)
        up, down = code.get("upgrade", (None, None)), code.get("downgrade", (None, None))
        revisions.append(
            {
                "revision": sc.revision,
                "downRevisions": _tuple(sc.down_revision),
                "branchLabels": sorted(_tuple(sc.branch_labels)),
                "dependsOn": _tuple(sc.dependencies),
                "message": (sc.doc or "").strip(),
                "path": sc.path,
                "upgradeHash": up[0],
                "downgradeHash": down[0],
                "upgradeCode": up[1],
                "downgradeCode": down[1],
            }
        )
    return {
        "ok": True,
        "revisions": revisions,
        "heads": list(script.get_heads()),
        "errors": [],
    }


def cmd_graph(req):
    return _graph()


# --- pointing Alembic at the throwaway database ------------------------------------------------
def _with_driver(url, section=None):
    """Keep the driver the project's own URL names (postgresql+asyncpg://...); else pick an
    installed one, so env.py gets a URL its engine can use."""
    if not url.startswith("postgresql://"):
        return url
    try:
        cfg = STATE["config"]
        own = (cfg.get_section_option(section, "sqlalchemy.url") if section else cfg.get_main_option("sqlalchemy.url")) or ""
    except Exception:
        own = ""
    scheme = own.split("://", 1)[0] if "://" in own else ""
    if scheme.startswith("postgresql+") or scheme.startswith("postgres+"):
        driver = scheme.split("+", 1)[1]
    else:
        driver = None
        for module, name in (("psycopg2", "psycopg2"), ("psycopg", "psycopg"), ("asyncpg", "asyncpg"), ("pg8000", "pg8000")):
            try:
                __import__(module)
                driver = name
                break
            except ImportError:
                continue
    return "postgresql+%s://%s" % (driver, url.split("://", 1)[1]) if driver else url


def cmd_database(req):
    _forget_reused()  # a connection to the previous database would keep it from being dropped
    twin = dict(req["twin"], port=str(req["twin"]["port"]))
    ROUTE.update(twin=twin, marker=req.get("marker"), mode=req.get("mode") or "redirect")
    ROUTE["ours"].add((twin["port"], twin["database"]))
    ROUTE["hosts"].add(twin["host"])
    ROUTE["hosts"].update(req.get("aliases") or [])
    if twin["host"] in _LOOPBACK:
        ROUTE["hosts"].update(_LOOPBACK)
    url = _with_driver(req["url"])
    STATE["url"] = url
    cfg = STATE["config"]
    # ConfigParser interpolation: a literal % must be doubled.
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    # multidb: every ini section's database has a twin of its own (the first is the one above).
    if req.get("section"):
        cfg.set_section_option(req["section"], "sqlalchemy.url", _with_driver(req["url"], req["section"]).replace("%", "%%"))
    ROUTE["sections"] = {}
    for section in req.get("sections") or []:
        other = dict(section["twin"], port=str(section["twin"]["port"]))
        ROUTE["ours"].add((other["port"], other["database"]))
        ROUTE["sections"][section["name"]] = other
        ROUTE["section_of"][(other["port"], other["database"])] = section["name"]
        cfg.set_section_option(section["name"], "sqlalchemy.url", _with_driver(section["url"], section["name"]).replace("%", "%%"))
    # DATABASE_URL as libpq and most frameworks take it; variables named with --url-env hold the
    # SQLAlchemy URL, driver included.
    os.environ["DATABASE_URL"] = req.get("plainUrl") or url
    for name in req.get("envVars") or []:
        os.environ[name] = url
    # The variable families projects compose their URL from, where the job has not set them.
    family = {
        "PGHOST": twin["host"], "PGPORT": twin["port"], "PGUSER": twin["user"],
        "PGPASSWORD": twin.get("password") or "", "PGDATABASE": twin["database"],
        "POSTGRES_SERVER": twin["host"], "POSTGRES_HOST": twin["host"], "POSTGRES_PORT": twin["port"],
        "POSTGRES_USER": twin["user"], "POSTGRES_PASSWORD": twin.get("password") or "",
        "POSTGRES_DB": twin["database"],
    }
    for name, value in family.items():
        if name in ROUTE["env"] or name not in os.environ:
            ROUTE["env"].add(name)
            os.environ[name] = value
    return {}


# --- running migrations ------------------------------------------------------------------------
def _require_script():
    if STATE["script"] is None:
        exc = STATE["script_error"]
        raise GateError(
            "graph", "the revision scripts could not be loaded: %s" % (exc,)
        )
    return STATE["script"]


def _run(direction, target, migrate=True, observe=None):
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
            return script._upgrade_revs(target, rev)
        return script._downgrade_revs(target, rev)

    started = time.perf_counter()
    STATE["catalog_write"] = False
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
    result = {
        "ms": round((time.perf_counter() - started) * 1000, 2),
        "catalogWrite": STATE["catalog_write"],
        "versionTable": _version_table(env),
    }
    if observed is not None:
        result["locks"] = observed["events"]
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


def cmd_upgrade(req):
    return _run("upgrade", req["target"], observe=req.get("observe"))


def cmd_downgrade(req):
    return _run("downgrade", req["target"], observe=req.get("observe"))


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
        return script._stamp_revs("heads", rev)

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
            return script._upgrade_revs(dest, rev)
        return script._downgrade_revs(dest, rev)

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


# --- drift: the models against the migrated schema ----------------------------------------------
def _qual(schema, name):
    return "%s.%s" % (schema, name) if schema else str(name)


def _type_str(t, dialect):
    try:
        return t.compile(dialect=dialect)
    except Exception:
        return repr(t)


def _describe(diff, dialect):
    kind = diff[0]
    try:
        if kind == "add_table":
            t = diff[1]
            return {"kind": kind, "table": _qual(t.schema, t.name), "message": "model has table %s; the migrated schema does not" % _qual(t.schema, t.name)}
        if kind == "remove_table":
            t = diff[1]
            return {"kind": kind, "table": _qual(t.schema, t.name), "message": "the migrated schema has table %s; the models do not" % _qual(t.schema, t.name)}
        if kind in ("add_column", "remove_column"):
            schema, tname, col = diff[1], diff[2], diff[3]
            table = _qual(schema, tname)
            what = "column %s.%s (%s)" % (table, col.name, _type_str(col.type, dialect))
            if kind == "add_column":
                msg = "model has %s; the migrated schema does not" % what
            else:
                msg = "the migrated schema has %s; the models do not" % what
            return {"kind": kind, "table": table, "column": col.name, "message": msg}
        if kind in ("add_index", "remove_index"):
            idx = diff[1]
            table = _qual(idx.table.schema, idx.table.name) if idx.table is not None else "?"
            cols = ", ".join(getattr(c, "name", str(c)) for c in idx.expressions)
            uniq = "unique " if idx.unique else ""
            if kind == "add_index":
                msg = "model has %sindex %s on %s (%s); the migrated schema does not" % (uniq, idx.name, table, cols)
            else:
                msg = "the migrated schema has %sindex %s on %s (%s); the models do not" % (uniq, idx.name, table, cols)
            return {"kind": kind, "table": table, "name": idx.name, "message": msg}
        if kind in ("add_constraint", "remove_constraint", "add_fk", "remove_fk"):
            const = diff[1]
            table_obj = getattr(const, "table", None)
            table = _qual(table_obj.schema, table_obj.name) if table_obj is not None else "?"
            label = {
                "UniqueConstraint": "unique constraint",
                "ForeignKeyConstraint": "foreign key",
                "CheckConstraint": "check constraint",
                "PrimaryKeyConstraint": "primary key",
            }.get(type(const).__name__, "constraint")
            name = const.name or "(unnamed)"
            cols = ", ".join(c.name for c in getattr(const, "columns", []))
            if kind.startswith("add"):
                msg = "model has %s %s on %s (%s); the migrated schema does not" % (label, name, table, cols)
            else:
                msg = "the migrated schema has %s %s on %s (%s); the models do not" % (label, name, table, cols)
            return {"kind": kind, "table": table, "name": const.name, "message": msg}
        if kind.startswith("modify_"):
            schema, tname, cname, existing, old, new = diff[1], diff[2], diff[3], diff[4], diff[5], diff[6]
            table = _qual(schema, tname)
            col = "column %s.%s" % (table, cname)
            if kind == "modify_type":
                msg = "%s is %s in the migrated schema, %s in the model" % (col, _type_str(old, dialect), _type_str(new, dialect))
            elif kind == "modify_nullable":
                fmt = lambda v: "nullable" if v else "NOT NULL"  # noqa: E731
                msg = "%s is %s in the migrated schema, %s in the model" % (col, fmt(old), fmt(new))
            elif kind == "modify_default":
                def fmt(v):
                    if v is None:
                        return "no server default"
                    arg = getattr(v, "arg", v)
                    return "server default %s" % (getattr(arg, "text", None) or str(arg))
                msg = "%s has %s in the migrated schema, %s in the model" % (col, fmt(old), fmt(new))
            elif kind == "modify_comment":
                msg = "%s has comment %r in the migrated schema, %r in the model" % (col, old, new)
            else:
                msg = "%s differs (%s): %r in the migrated schema, %r in the model" % (col, kind, old, new)
            return {"kind": kind, "table": table, "column": cname, "message": msg}
        if kind in ("add_table_comment", "remove_table_comment"):
            t = diff[1]
            return {"kind": kind, "table": _qual(t.schema, t.name), "message": "table %s comment differs between the model and the migrated schema" % _qual(t.schema, t.name)}
    except Exception:
        pass
    return {"kind": str(kind), "message": "model and migrated schema differ: %s" % (diff,)}


def _flatten(op):
    # ModifyTableOps groups the changes to one table and has no diff tuple of its own.
    if hasattr(op, "ops"):
        return [d for sub in op.ops for d in _flatten(sub)]
    diff = op.to_diff_tuple()
    if isinstance(diff, list):
        out = []
        for d in diff:
            out.extend(d if isinstance(d, list) else [d])
        return out
    return [diff]


def _ops_of(script_op):
    lst = getattr(script_op, "upgrade_ops_list", None)
    if lst is None:
        lst = [script_op.upgrade_ops]
    downs = getattr(script_op, "downgrade_ops_list", None)
    if downs is None:
        downs = [script_op.downgrade_ops]
    return lst, downs


_RENDER_OPTS = ("user_module_prefix", "render_item", "render_as_batch", "alembic_module_prefix", "sqlalchemy_module_prefix")


def _summarize(generated, migration_context):
    from alembic.autogenerate import render_python_code
    from alembic.runtime.migration import MigrationContext

    dialect = migration_context.dialect if migration_context is not None else None
    opts = migration_context.opts if migration_context is not None else {}
    # Render through a fresh context that carries env.py's rendering options but no script:
    # the live one would insist on target_metadata in the render options.
    render_context = MigrationContext.configure(
        dialect=dialect, opts={k: opts[k] for k in _RENDER_OPTS if opts.get(k) is not None}
    ) if dialect is not None else None
    operations = []
    ups, downs = [], []
    for script_op in generated:
        up_list, down_list = _ops_of(script_op)
        for up in up_list:
            if up is None or up.is_empty():
                continue
            section = _section_of(up.upgrade_token)
            for op in up.ops:
                for diff in _flatten(op):
                    described = _describe(diff, dialect)
                    if section:
                        described["message"] = "%s: %s" % (section, described["message"])
                    operations.append(described)
            ups.append(up)
        downs.extend(d for d in down_list if d is not None and not d.is_empty())

    def render(op_list):
        if not op_list:
            return None
        chunks = []
        for ops_obj in op_list:
            code = render_python_code(
                ops_obj,
                render_as_batch=bool(opts.get("render_as_batch")),
                render_item=opts.get("render_item"),
                migration_context=render_context,
            )
            section = _section_of(getattr(ops_obj, "upgrade_token", None) or getattr(ops_obj, "downgrade_token", None))
            if section:
                # multidb: each database's operations are the body of its own function in the
                # revision (the template's upgrade_<section>()), rendered as that function.
                code = "def %s_%s() -> None:\n    %s\n" % ("upgrade" if any(ops_obj is u for u in ups) else "downgrade", section, code)
            chunks.append(code)
        return "\n".join(chunks)

    return operations, render(ups), render(downs)


# --- compat: the deployed code (the base's models) against the schema after the PR ------------
def _trial_value(column):
    """A value the deployed code could write into `column` (its model's type), or None."""
    import datetime
    import decimal
    import uuid

    import sqlalchemy as sa

    t = column.type
    enums = getattr(t, "enums", None)
    if enums:
        return enums[0]
    for kind, value in (
        (sa.Boolean, False),
        (sa.Integer, 1),
        (sa.Numeric, decimal.Decimal(1)),
        (sa.Float, 1.0),
        (sa.DateTime, datetime.datetime(2020, 1, 1)),
        (sa.Date, datetime.date(2020, 1, 1)),
        (sa.Time, datetime.time(0, 0)),
        (sa.Interval, datetime.timedelta(0)),
        (sa.LargeBinary, b"x"),
        (sa.JSON, {}),
    ):
        if isinstance(t, kind):
            return value
    if isinstance(t, sa.String):
        return "x"[: t.length] if t.length else "x"
    if type(t).__name__.upper() == "UUID":
        return uuid.UUID(int=1) if getattr(t, "as_uuid", True) else str(uuid.UUID(int=1))
    return None


def _catalog_columns(conn):
    """{(schema, table): {column: {nullable, default, generated}}} of the whole database, in one query."""
    rows = conn.exec_driver_sql(
        "SELECT n.nspname, c.relname, a.attname, NOT a.attnotnull, "
        "(a.atthasdef OR a.attidentity <> '' OR a.attgenerated <> '') "
        "FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE a.attnum > 0 AND NOT a.attisdropped AND c.relkind IN ('r', 'p', 'v', 'm', 'f') "
        "AND n.nspname NOT IN ('pg_catalog', 'information_schema')"
    ).fetchall()
    out = {}
    for schema, table, column, nullable, filled in rows:
        out.setdefault((schema, table), {})[column] = {"nullable": bool(nullable), "filled": bool(filled)}
    return out


def _compat_table(conn, table, catalog, search_path, problems):
    """Every mapped column must exist; a NOT NULL column without a default must be mapped; then
    a SELECT of the mapped columns, an INSERT of a row the way the model builds one and an UPDATE,
    in one savepoint that is rolled back. What fails because of the PR's schema is a problem."""
    import sqlalchemy as sa

    name = table.fullname
    shown = name if not name.startswith("public.") else name[len("public."):]
    columns = None
    for schema in [table.schema] if table.schema else search_path:
        columns = catalog.get((schema, table.name))
        if columns:
            break
    if not columns:
        problems.append({"kind": "missing_table", "table": shown, "column": None, "statement": "select", "message": "table %s does not exist" % shown})
        return
    missing = [c.name for c in table.columns if c.name not in columns]
    for col in missing:
        problems.append({"kind": "missing_column", "table": shown, "column": col, "statement": "select", "message": "column %s.%s does not exist" % (shown, col)})
    if missing:
        return  # every statement of the deployed code on this table fails the same way
    # New NOT NULL columns without a default, which the deployed code does not know to fill.
    mapped = {c.name for c in table.columns}
    for col_name, info in columns.items():
        if col_name in mapped or info["nullable"] or info["filled"]:
            continue
        problems.append({"kind": "unfilled_column", "table": shown, "column": col_name, "statement": "insert", "message": "column %s.%s is NOT NULL without a default, and the deployed code does not set it" % (shown, col_name)})
    values = {}
    for c in table.columns:
        if c.primary_key and c.autoincrement in (True, "auto") and isinstance(c.type, sa.Integer):
            continue
        if c.default is not None or c.server_default is not None or c.nullable:
            continue
        v = _trial_value(c)
        if v is not None:
            values[c.name] = v
    if any(p["table"] == shown for p in problems):
        return
    statements = [("select", sa.select(*table.columns).limit(1)), ("insert", table.insert().values(**values))]
    settable = {c.name: c for c in table.columns if not c.primary_key}
    if settable:
        statements.append(("update", table.update().values(settable)))
    savepoint = conn.begin_nested()
    try:
        for statement, stmt in statements:
            # A statement of its own: an INSERT whose row misses a parent (foreign keys stay on
            # for a role that is no superuser) does not keep the UPDATE from being tried.
            inner = conn.begin_nested()
            try:
                conn.execute(stmt)
            except Exception as exc:
                inner.rollback()
                orig = getattr(exc, "orig", None)
                code = getattr(orig, "pgcode", None) or getattr(orig, "sqlstate", None)
                # Only what the PR's schema causes: a type the deployed code's values no longer
                # fit (datatype mismatch), a relation or column gone. Trial values that meet a
                # CHECK or a unique index say nothing about the deploy.
                if code in ("42P01", "42703", "42804"):
                    problems.append({"kind": "statement", "table": shown, "column": None, "statement": statement, "message": str(orig or exc).strip().splitlines()[0]})
                    break  # the rest of this table fails the same way
    finally:
        savepoint.rollback()


def cmd_release(req):
    """Closes the connection kept between steps: a database with a session open cannot be copied."""
    _forget_reused()
    return {}


def cmd_compat(req):
    from alembic.runtime.environment import EnvironmentContext

    script = _require_script()
    cfg = STATE["config"]
    _flask_context()
    out = {"ran": False, "metadata": True, "tables": 0, "problems": []}

    def probe(rev, context):
        out["ran"] = True
        metadata = context.opts.get("target_metadata")
        if metadata is None:
            out["metadata"] = False
            return []
        conn = context.connection
        catalog = _catalog_columns(conn)
        search_path = [s.strip().strip('"') for s in conn.exec_driver_sql("SELECT current_schemas(false)::text").scalar().strip("{}").split(",") if s.strip()]
        # Foreign keys are triggers: the trial rows need no parents when the project's code runs
        # as a superuser (--migration-role superuser). Otherwise a row that misses a parent fails
        # on its own, which says nothing about the deploy.
        if conn.exec_driver_sql("SELECT current_setting('is_superuser')").scalar() == "on":
            conn.exec_driver_sql("SET LOCAL session_replication_role = replica")
        # multidb: env.py configures a context per ini section; the tables are named after it.
        section = _section_of(context.opts.get("upgrade_token"))
        for md in metadata if isinstance(metadata, (list, tuple)) else [metadata]:
            for table in md.sorted_tables:
                out["tables"] += 1
                found = []
                _compat_table(conn, table, catalog, search_path, found)
                for p in found:
                    if section:
                        p["table"] = "%s.%s" % (section, p["table"])
                out["problems"].extend(found)
        return []

    started = time.perf_counter()
    with EnvironmentContext(cfg, script, fn=probe, as_sql=False):
        script.run_env()
    out["ms"] = round((time.perf_counter() - started) * 1000, 2)
    return out


def cmd_drift(req):
    from alembic.autogenerate import RevisionContext
    from alembic.runtime.environment import EnvironmentContext

    script = _require_script()
    cfg = STATE["config"]
    _flask_context()
    command_args = dict(
        message="alembic-gate drift check",
        autogenerate=True,
        sql=False,
        head="head",
        splice=False,
        branch_label=None,
        version_path=None,
        rev_id="alembic_gate_drift",
        depends_on=None,
    )
    raw = {}

    def before_user_hook(context, revision, directives):
        # Runs before env.py's own process_revision_directives: keep what autogenerate found,
        # so a hook that empties the directives cannot hide drift.
        raw["summary"] = _summarize(directives, context)

    revision_context = RevisionContext(
        cfg, script, command_args, process_revision_directives=before_user_hook
    )
    seen = {"ran": False, "target_metadata": True}

    def retrieve(rev, context):
        seen["ran"] = True
        if context.opts.get("target_metadata") is None:
            seen["target_metadata"] = False
            return []
        revision_context.run_autogenerate(rev, context)
        return []

    started = time.perf_counter()
    with EnvironmentContext(
        cfg,
        script,
        fn=retrieve,
        as_sql=False,
        template_args=revision_context.template_args,
        revision_context=revision_context,
    ):
        try:
            script.run_env()
        except Exception as exc:
            tb = traceback.extract_tb(exc.__traceback__)
            if any(fr.name == "process_revision_directives" for fr in tb):
                payload = _error_payload(exc)
                raise GateError(
                    "hook",
                    "env.py's process_revision_directives raised: %s" % payload["message"],
                    file=payload.get("file"),
                    line=payload.get("line"),
                    detail=payload.get("detail"),
                )
            raise
        finally:
            _release_flask_connections()
    ms = round((time.perf_counter() - started) * 1000, 2)
    if not seen["target_metadata"]:
        return {"skipped": "env.py sets no target_metadata, so there are no models to compare", "ms": ms}
    if not seen["ran"]:
        return {"skipped": "env.py did not run migrations in online mode", "ms": ms}
    ctx = getattr(revision_context, "_last_autogen_context", None)
    mctx = getattr(ctx, "migration_context", None)
    operations, up, down = _summarize(revision_context.generated_revisions, mctx)
    notes = []
    raw_ops = raw.get("summary", ([], None, None))
    if not operations and raw_ops[0]:
        notes.append(
            "env.py's process_revision_directives removed what autogenerate found; "
            "the drift below is the comparison before that hook"
        )
        operations, up, down = raw_ops
    return {"operations": operations, "upgrade": up, "downgrade": down, "notes": notes, "ms": ms}


def cmd_ping(req):
    return {"pong": True}


def _take_notices():
    notices, ROUTE["notices"] = ROUTE["notices"], []
    return notices


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


# --- the processes user code starts -------------------------------------------------------
PR_SET_CHILD_SUBREAPER = 36


def _become_subreaper():
    """Orphaned descendants are re-parented to us, so _kill_descendants finds them all."""
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    except Exception:
        pass


def _process_table():
    """{pid: (ppid, state)} from /proc."""
    table = {}
    try:
        names = os.listdir("/proc")
    except OSError:
        return table
    for name in names:
        if not name.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % name, "rb") as f:
                data = f.read()
            rest = data[data.rindex(b")") + 2 :].split()
            table[int(name)] = (int(rest[1]), rest[0].decode())
        except (OSError, ValueError, IndexError):
            continue
    return table


def _descendants(root):
    table = _process_table()
    children = {}
    for pid, (ppid, state) in table.items():
        children.setdefault(ppid, []).append((pid, state))
    found, stack = [], [root]
    while stack:
        for pid, state in children.get(stack.pop(), ()):
            found.append((pid, state))
            stack.append(pid)
    return found


def _reap():
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        except OSError:
            return
        if pid == 0:
            return


def _kill_descendants():
    """Stop every descendant (so none forks while we look), kill them, reap what is ours."""
    import signal

    me = os.getpid()
    for _ in range(50):
        live = [pid for pid, state in _descendants(me) if state not in ("Z", "X")]
        if not live:
            break
        for sig in (signal.SIGSTOP, signal.SIGKILL):
            for pid in live:
                try:
                    os.kill(pid, sig)
                except OSError:
                    pass
        time.sleep(0.005)
        _reap()
    _reap()


def _watch_gate():
    """The gate closed its end of the request channel (it exited or was killed): end now."""
    import select
    import threading

    def watch():
        try:
            poller = select.poll()
            poller.register(_request_fd, getattr(select, "POLLRDHUP", 0) | select.POLLHUP)
            while True:
                events = poller.poll()
                if any(ev & (select.POLLHUP | getattr(select, "POLLRDHUP", 0) | select.POLLERR | select.POLLNVAL) for _, ev in events):
                    break
        except Exception:
            return
        _kill_descendants()
        os._exit(0)

    threading.Thread(target=watch, name="alembic-gate-watchdog", daemon=True).start()


def _exit(code):
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except Exception:
        pass
    _kill_descendants()
    # Skip interpreter teardown (module and GC finalisation of SQLAlchemy, the project's
    # models, pools): the gate has what it needs, and teardown costs a tenth of a second.
    os._exit(code)


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
    for line in _requests:
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


if __name__ == "__main__":
    try:
        _code = main()
    except KeyboardInterrupt:
        _code = 130
    _exit(_code)
