"""Where a MySQL/MariaDB project's connections land: the gate's throwaway database, never the
project's own.

Routed as PostgreSQL's are (guard.py): SQLAlchemy's do_connect for the mysql and mariadb
dialects, whatever the driver, and the drivers' own connection classes (PyMySQL's
pymysql.connections.Connection, mysqlclient's MySQLdb.connections.Connection: pymysql.connect,
MySQLdb.connect and every subclass end there), which is where engines built with creator= and
raw DBAPI connections go. Where a set of parameters points is read in the drivers' spellings
(and from the option file it names); the routed set has the twin's host, port, user, password
and database in the driver's spelling, and nothing else that says where or as whom to connect
(socket, option files, TLS settings meant for the production server); charset, init_command,
autocommit and the rest are kept. Every new pooled connection is asked which database and server
it is on (DATABASE(), and the server's hostname:port:datadir, which the gate's server alone has)
before SQLAlchemy uses it; one that is not on a twin is closed and refused. MySQL connections are
never kept between steps (session.py keeps psycopg2's only).
"""

import functools
import inspect
import os

from .errors import GateError
from .state import ROUTE, STATE

_DEFAULT_PORT = "3306"

# Parameters that say where or as whom to connect, in any MySQL driver's spelling: replaced by
# the twin's, never passed on. So is every ssl*/tls_* option of a redirected connection
# (certificates, CAs and modes meant for the production server): the twin's `ssl`, if it has
# one, is sent instead. A connection to a database the gate handed out keeps its own.
_WHERE = frozenset((
    "host", "port", "user", "username", "password", "passwd", "password1", "password2", "password3",
    "database", "db", "unix_socket", "named_pipe", "read_default_file", "read_default_group",
    "option_files", "option_groups", "server_public_key", "server_public_key_path", "auth_plugin",
    "bind_address",
))

# (user, password, database) as each driver spells them; a driver not listed keeps the spelling
# its caller used (SQLAlchemy's dialect for it knows it), else the DB-API's.
_SPELLING = {
    "pymysql": ("user", "password", "database"),
    "mysqldb": ("user", "passwd", "db"),
    "aiomysql": ("user", "password", "db"),
    "asyncmy": ("user", "password", "database"),
    "mysqlconnector": ("user", "password", "database"),
    "cymysql": ("user", "passwd", "db"),
}

# mysqlclient's positional parameters (_mysql.connection's keyword list; stable up to `ssl`).
_MYSQLDB_POSITIONAL = (
    "host", "user", "passwd", "db", "port", "unix_socket", "conv", "connect_timeout", "compress",
    "named_pipe", "init_command", "read_default_file", "read_default_group", "client_flag", "ssl",
)


def _text(value):
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).decode("utf-8", "replace")
    return "" if value is None else str(value)


def _tls(key):
    return key.startswith("ssl") or key.startswith("tls_")


def _option_file(params, driver):
    """host/port/user/database/socket from the option file (my.cnf) `params` name, for where the
    connection would have gone: PyMySQL reads read_default_file's group read_default_group (default
    [client]), or /etc/my.cnf for a group alone; the C client reads [client] and the group."""
    path = params.get("read_default_file")
    group = _text(params.get("read_default_group")) or None
    if not path and not group:
        return {}
    if path:
        files = [os.path.expanduser(_text(path))]
    elif driver == "pymysql":
        files = ["/etc/my.cnf"]
    else:
        files = ["/etc/my.cnf", "/etc/mysql/my.cnf", os.path.expanduser("~/.my.cnf")]
    groups = [group or "client"] if driver == "pymysql" else ["client"] + ([group] if group and group != "client" else [])
    import configparser

    found = {}
    for name in files:
        parser = configparser.RawConfigParser(allow_no_value=True, strict=False, delimiters=("=",))
        try:
            with open(name, encoding="utf-8", errors="replace") as f:
                # !include / !includedir name more files: not followed (the notice may then say less).
                parser.read_string("".join(line for line in f if not line.lstrip().startswith("!")))
        except Exception:
            continue
        for g in groups:
            if parser.has_section(g):
                for key, value in parser.items(g):
                    key = key.replace("-", "_")
                    if key in ("host", "port", "user", "password", "database", "socket") and value is not None:
                        found[key] = value.strip().strip("'\"")
    return found


def where_of(params, driver=None):
    """(host, port, database, user) a MySQL driver's parameter dict points at. PyMySQL connects
    through unix_socket whenever it is given; the C client (mysqlclient) only when the host is
    localhost or none."""
    conf = _option_file(params, driver)
    host = _text(params.get("host") or conf.get("host"))
    socket = _text(params.get("unix_socket") or conf.get("socket"))
    if socket and (driver == "pymysql" or host in ("", "localhost")):
        host = socket
    port = _text(params.get("port") or conf.get("port")) or _DEFAULT_PORT
    if port == "0":
        port = _DEFAULT_PORT
    database = _text(params.get("database") or params.get("db") or conf.get("database"))
    user = _text(params.get("user") or params.get("username") or conf.get("user"))
    return host, port, database, user


def routed_params(params, twin, driver=None, ours=False):
    """`params` pointed at `twin`: its host, port, user, password and database in the driver's
    spelling; the rest of `params` kept, less what says where or as whom to connect. TLS options
    are kept for a database the gate handed out (`ours`: they came with the gate's URL); else the
    twin's `ssl` (the drivers' ssl dict), if it has one, replaces them."""
    spelling = _SPELLING.get(driver)
    if spelling is None:
        spelling = (
            "username" if "username" in params and "user" not in params else "user",
            "passwd" if "passwd" in params and "password" not in params else "password",
            "db" if "db" in params and "database" not in params else "database",
        )
    user_key, password_key, database_key = spelling
    out = {k: v for k, v in params.items() if k not in _WHERE and (ours or not _tls(k))}
    if isinstance(twin.get("ssl"), dict) and twin["ssl"] and not any(_tls(k) for k in out):
        out["ssl"] = dict(twin["ssl"])
    host = twin["host"]
    if host.startswith("/"):
        out["unix_socket"], host = host, "localhost"
    elif host == "localhost":
        host = "127.0.0.1"  # the C client takes localhost for the machine's default socket, not the twin's port
    out.update(host=host, port=int(twin["port"]))
    out[user_key] = twin["user"]
    out[password_key] = twin.get("password") or ""
    out[database_key] = twin["database"]
    return out


def _routed(params, driver):
    """The parameters to connect with instead of `params` (refused when the run is another
    engine's, or by _route)."""
    from .guard import _describe_where, _is_ours, _refuse_engine, _route

    where = where_of(params, driver)
    if (ROUTE.get("engine") or "postgresql") not in ("mysql", "none"):
        _refuse_engine("mysql", _describe_where(where, "mysql"))
    twin = _route(where, "mysql")
    return routed_params(params, twin, driver, _is_ours(where))


def on_do_connect(dialect, cargs, cparams):
    """SQLAlchemy's do_connect for a mysql/mariadb dialect during a MySQL run."""
    from .guard import _is_ours, _route

    driver = getattr(dialect, "driver", None)
    params = dict(cparams)
    if cargs:
        positional = _MYSQLDB_POSITIONAL if driver == "mysqldb" else ("host", "user", "password", "database", "port")
        for key, value in zip(positional, cargs):
            params.setdefault(key, value)
    where = where_of(params, driver)
    twin = _route(where, getattr(dialect, "name", "mysql"))
    routed = routed_params(params, twin, driver, _is_ours(where))
    cargs[:] = []
    cparams.clear()
    cparams.update(routed)


# --- the drivers' own connection classes ----------------------------------------------------------
def _patch_class(cls, driver, positional):
    original = cls.__dict__.get("__init__")
    if original is None or getattr(original, "_alembic_gate", False):
        return

    @functools.wraps(original)
    def __init__(self, *args, **kwargs):
        if ROUTE["twin"] is not None:
            if len(args) > len(positional):
                STATE["foreign"] = (
                    "a %s connection was opened with %d positional arguments; alembic-gate reads where a "
                    "connection goes from the first %d only, so it refused it: pass them as keywords"
                    % (driver, len(args), len(positional))
                )
                raise GateError("foreign_database", STATE["foreign"])
            params = dict(zip(positional, args))
            params.update(kwargs)
            args, kwargs = (), _routed(params, driver)
        original(self, *args, **kwargs)

    __init__._alembic_gate = True
    cls.__init__ = __init__


def patch_pymysql(mod):
    """pymysql: pymysql.connect, pymysql.Connection and pymysql.connections.Connection (one class
    since PyMySQL 1.0; a function that builds it before)."""
    connections = getattr(mod, "connections", None)
    if connections is None:
        import importlib

        connections = importlib.import_module(mod.__name__ + ".connections")
    cls = connections.Connection
    original = cls.__dict__.get("__init__")
    try:
        params = list(inspect.signature(original).parameters.values())[1:]
    except (TypeError, ValueError):
        params = []
    positional = tuple(p.name for p in params if p.kind == p.POSITIONAL_OR_KEYWORD)
    _patch_class(cls, "pymysql", positional)


def patch_mysqldb_connections(mod):
    """MySQLdb.connections: MySQLdb.connect / Connect / Connection build this class (imported on
    their first call, not with MySQLdb)."""
    _patch_class(mod.Connection, "mysqldb", _MYSQLDB_POSITIONAL)


# --- the live check -------------------------------------------------------------------------------
_IDENTIFY = "SELECT DATABASE(), CONCAT(@@hostname, ':', @@port, ':', @@datadir)"


def _peer(conn):
    """(host, port, user) a live connection says it reached, as far as its driver tells."""
    host = getattr(conn, "unix_socket", None) or getattr(conn, "host", None)  # PyMySQL
    if isinstance(host, (str, bytes)):
        return _text(host), _text(getattr(conn, "port", "")), _text(getattr(conn, "user", ""))
    try:
        info = _text(conn.get_host_info())  # mysqlclient: "127.0.0.1 via TCP/IP", "Localhost via UNIX socket"
    except Exception:
        return None
    host = info.split(" via ", 1)[0]
    return ("localhost" if "socket" in info.lower() else host), "", ""


def verify(dbapi_connection):
    """The fail-closed check: a new connection must be on a twin database of the gate's server
    before anything of the project's runs on it."""
    from .guard import _describe_where, _who_connects

    twin = ROUTE["twin"]
    row = None
    try:
        cur = dbapi_connection.cursor()
        try:
            cur.execute(_IDENTIFY)
            row = cur.fetchone()
        finally:
            cur.close()
        dbapi_connection.rollback()
    except Exception:
        row = None
    if isinstance(row, dict):  # a DictCursor as the connection's cursor class
        row = tuple(row.values())
    if row is not None:
        row = tuple(_text(v) if v is not None else None for v in row)
    twins = {twin["database"]} | {t["database"] for t in ROUTE["sections"].values()}
    if row is not None and row[0] in twins and row[1] == ROUTE["marker"]:
        return
    peer = _peer(dbapi_connection)
    try:
        dbapi_connection.close()
    except Exception:
        pass
    if row is not None:
        database = row[0] or "(no database)"
        server_port = (row[1] or "").split(":")[1:2]
        if peer is not None:
            host, port, user = peer
            on = _describe_where((host, (server_port[0] if server_port else "") or port or _DEFAULT_PORT, database, user), "mysql")
        else:
            on = "database %s of another server" % database
        if row[1] != ROUTE["marker"]:
            on += " (server %s, not the gate's)" % row[1]
    else:
        on = "a server the gate could not identify"
    STATE["foreign"] = (
        "%s opened a database connection that bypassed alembic-gate's redirect and landed on %s, "
        "not on the gate's throwaway database; alembic-gate closed it before any statement of the "
        "project's ran. Build the engine from sqlalchemy.url or DATABASE_URL (or with pymysql or "
        "MySQLdb), which the gate redirects." % (_who_connects(), on)
    )
    raise GateError("foreign_database", STATE["foreign"])
