"""Where every connection lands: routing to the throwaway twin, the drivers' connect functions,
and the fail-closed check on every new connection."""

import re
import sys
import traceback

from .errors import GateError, _is_user_file, _relative
from .observe import _watch_catalog_writes
from .session import _install_connection_reuse, _reused_connection
from .state import _REUSE, ROUTE, STATE


# --- where every connection lands ---------------------------------------------------------------
# The gate decides where the project's connections go. Every PostgreSQL connection made while a
# step runs is routed to the worker's current throwaway database (its "twin"), whatever URL
# env.py, a settings module or a migration names: through SQLAlchemy (do_connect, any driver),
# and through the drivers' own connect functions (psycopg2, psycopg 3, asyncpg), which is where
# engines built with creator= and raw DBAPI connections go. MySQL/MariaDB connections are routed
# the same way (mysql_guard.py: pymysql, MySQLdb), SQLite files by sqlite_guard.py; a connection
# of another engine than the run's is refused. A URL the gate handed out earlier
# (a settings object read at import, before a rebuild) lands on the current database too.
# Whatever gets past both is caught on the live connection: every new pooled connection is
# asked which database and server it is on before SQLAlchemy uses it, and one that is not the
# twin is closed and refused.
# The routing state is ROUTE (state.py); cmd_database (session.py) sets the twin.


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
    _claim(
        where[:3],
        lambda claimed: (
            "%s connected to %s as well as to %s: alembic-gate redirects one database it was not told of "
            "to the run's throwaway twin, so it refused the second. For a project of several databases, "
            "name each in an ini section of its own with its sqlalchemy.url and list them in the "
            "`databases` option, as `alembic init -t multidb` does: every section then gets a twin." % (_who_connects(), shown, _describe_where(claimed + ("",), scheme))
        ),
        "%s connected to %s; redirected to its throwaway twin" % (_who_connects(), shown),
    )
    return twin


def _claim(key, second, notice):
    """Takes `key` as the one foreign database the run redirects (raising `second(claimed)` when
    another was taken first), and says so once."""
    if ROUTE["claimed"] is None:
        ROUTE["claimed"] = key
    elif ROUTE["claimed"] != key:
        STATE["foreign"] = second(ROUTE["claimed"])
        raise GateError("foreign_database", STATE["foreign"])
    if key not in ROUTE["noticed"]:
        ROUTE["noticed"].add(key)
        ROUTE["notices"].append(notice)


def _routed_params(params, twin, database_key="dbname"):
    out = {k: v for k, v in params.items() if k not in _WHERE}
    out.update(host=twin["host"], port=int(twin["port"]), user=twin["user"])
    out[database_key] = twin["database"]
    if twin.get("password"):
        out["password"] = twin["password"]
    if twin.get("sslmode"):
        out["sslmode"] = twin["sslmode"]
    return out


_ENGINE_NAMES = {"postgresql": "PostgreSQL", "sqlite": "SQLite", "mysql": "MySQL/MariaDB"}
# The engine (--engine) of each SQLAlchemy dialect name the gate has one for.
_DIALECT_ENGINES = {"postgresql": "postgresql", "sqlite": "sqlite", "mysql": "mysql", "mariadb": "mysql"}


def _refuse_engine(scheme, where):
    """Refuses a connection of dialect `scheme` (to `where`, as shown) during another engine's run."""
    engine = ROUTE.get("engine") or "postgresql"
    name = _ENGINE_NAMES.get(engine, engine)
    other = _DIALECT_ENGINES.get(scheme)
    advice = ("if it runs on %s, pass --engine %s" % (_ENGINE_NAMES[other], other)) if other else ("alembic-gate has no %s engine" % scheme)
    STATE["foreign"] = (
        "%s connected to %s: alembic-gate runs this project on a throwaway %s database (from its "
        "sqlalchemy.url, or --engine), so it refused the connection. If production runs on %s, point env.py "
        "at sqlalchemy.url or DATABASE_URL; %s." % (_who_connects(), where, name, name, advice)
    )
    raise GateError("foreign_database", STATE["foreign"])


def _other_engine(kind):
    """Whether a connection of engine `kind` belongs to another engine's run ("none": no database
    handed out yet, every connection is refused by _route)."""
    return (ROUTE.get("engine") or "postgresql") not in (kind, "none")


def _shown(name, cargs, cparams):
    """Where a do_connect of dialect `name` points, for a refusal (no credentials)."""
    if name == "sqlite":
        return "sqlite:///%s" % ((cargs[0] if cargs else None) or cparams.get("database") or "")
    if name == "postgresql":
        params = dict(cparams)
        dsn = params.get("dsn") or (cargs[0] if cargs and isinstance(cargs[0], str) else None)
        if dsn:
            params.update({k: v for k, v in _parse_conninfo(dsn).items() if k not in params or not params[k]})
        return _describe_where(_where_of(params))
    if name in ("mysql", "mariadb"):
        from .mysql_guard import where_of

        return _describe_where(where_of(cparams), name)
    return "%s (%s)" % (name, cparams.get("database") or cparams.get("db") or cparams.get("host") or "?")


def _on_do_connect(dialect, conn_rec, cargs, cparams):
    if ROUTE["twin"] is None:
        return None
    name = getattr(dialect, "name", "?")
    driver = getattr(dialect, "driver", None)
    engine = ROUTE.get("engine") or "postgresql"
    if name == "sqlite" and engine == "sqlite":
        return None  # sqlite3.connect itself is routed (sqlite_guard)
    if name in ("mysql", "mariadb") and engine == "mysql":
        from .mysql_guard import on_do_connect

        on_do_connect(dialect, cargs, cparams)
        return None  # never kept between steps (session.py keeps psycopg2's only)
    if name != "postgresql" or engine != "postgresql":
        _refuse_engine(name, _shown(name, cargs, cparams))
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
def _route_postgresql(where):
    """_route for a PostgreSQL driver's own connect: refused during another engine's run."""
    if _other_engine("postgresql"):
        _refuse_engine("postgresql", _describe_where(where))
    return _route(where)


def _patch_psycopg2(mod):
    original = mod.connect
    if getattr(original, "_alembic_gate", False):
        return

    def connect(dsn=None, connection_factory=None, cursor_factory=None, **kwargs):
        extra = {k: kwargs.pop(k) for k in ("async", "async_") if k in kwargs}
        if ROUTE["twin"] is not None:
            params = _parse_conninfo(dsn or "")
            params.update({k: v for k, v in kwargs.items() if v is not None})
            twin = _route_postgresql(_where_of(params))
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
                twin = _route_postgresql(_where_of(params))
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
            twin = _route_postgresql(_where_of(params))
            kwargs = {k: v for k, v in kwargs.items() if k not in _WHERE and k != "ssl"}
            kwargs.update(host=twin["host"], port=int(twin["port"]), user=twin["user"], database=twin["database"])
            if twin.get("password"):
                kwargs["password"] = twin["password"]
            dsn = None
        return await original(dsn, **kwargs)

    connect._alembic_gate = True
    mod.connect = connect


def _patch_pymysql(mod):
    from .mysql_guard import patch_pymysql

    patch_pymysql(mod)


def _patch_mysqldb(mod):
    from .mysql_guard import patch_mysqldb_connections

    patch_mysqldb_connections(mod)


_DRIVER_PATCHES = {
    "psycopg2": _patch_psycopg2, "psycopg": _patch_psycopg, "asyncpg": _patch_asyncpg,
    # MySQLdb.connect imports MySQLdb.connections on its first call: the class is patched there.
    "pymysql": _patch_pymysql, "MySQLdb.connections": _patch_mysqldb,
}


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
        if sys.modules.get(name) is not None:  # None: an import blocked on purpose
            patch(sys.modules[name])
    if not any(isinstance(finder, _DriverImportHook) for finder in sys.meta_path):
        sys.meta_path.insert(0, _DriverImportHook())


def _verify_connection(dbapi_connection, connection_record):
    """The fail-closed check: a new connection must be on the twin before anything runs on it."""
    twin = ROUTE["twin"]
    if twin is None or id(dbapi_connection) == ROUTE["verified"]:
        return
    if ROUTE.get("engine") == "sqlite":
        from .sqlite_guard import verify

        return verify(dbapi_connection)
    if ROUTE.get("engine") == "mysql":
        from .mysql_guard import verify

        return verify(dbapi_connection)
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

    if event.contains(Engine, "do_connect", _on_do_connect):
        return  # installed once a process
    event.listen(Engine, "do_connect", _on_do_connect)
    event.listen(Pool, "connect", _verify_connection, insert=True)
    event.listen(Engine, "before_cursor_execute", _watch_catalog_writes)
    _install_connection_reuse()
