"""Where a SQLite project's connections land: the run's throwaway file, never the project's own.

A SQLite "server" is a path. Every sqlite3 connection the project's code opens, through
SQLAlchemy or by calling sqlite3.connect itself, goes through `_connect` below: a file the gate
handed out is opened as it is; any other file (the project's sqlite:///app.db, relative to
wherever env.py runs) is redirected to the twin, or refused with --foreign-connections refuse.
In-memory databases touch no file and pass. A connection is verified on the live handle
(PRAGMA database_list) before anything of the project's runs on it.
"""
import os
import sqlite3

from .errors import GateError
from .state import ROUTE, STATE

_ORIGINAL = {"connect": None}


def _who():
    from .guard import _who_connects

    return _who_connects()


def _path_of(database, uri):
    """(absolute path, or None for a database that is no file) a sqlite3 `database` names."""
    if database is None:
        return None
    if isinstance(database, bytes):
        database = database.decode()
    database = os.fspath(database)
    if database in ("", ":memory:"):
        return None
    if uri or database.startswith("file:"):
        from urllib.parse import parse_qs, unquote, urlsplit

        rest = database[5:] if database.startswith("file:") else database
        path, _, query = rest.partition("?")
        if parse_qs(query).get("mode") == ["memory"] or path in ("", ":memory:"):
            return None
        if path.startswith("//"):
            path = urlsplit(database).path
        database = unquote(path)
    return os.path.realpath(os.path.abspath(database))


def _ours():
    return ROUTE.get("files") or set()


def twin_for(database, uri=False):
    """The file to open instead of `database` (itself when it is ours); raises when refused."""
    path = _path_of(database, uri)
    if path is None or path in _ours():
        return None
    twin = ROUTE["twin"]["database"]
    shown = "sqlite:///%s" % path
    if ROUTE["mode"] == "refuse":
        STATE["foreign"] = (
            "%s tried to open %s, which is not the gate's throwaway SQLite file; alembic-gate refused the "
            "connection (--foreign-connections refuse). Make env.py take its URL from "
            "config.get_main_option('sqlalchemy.url') or from the DATABASE_URL environment variable (alembic-gate "
            "sets both), or let the gate redirect the connection (--foreign-connections redirect, the default)." % (_who(), shown)
        )
        raise GateError("foreign_database", STATE["foreign"])
    from .guard import _claim

    _claim(
        ("sqlite", path),
        lambda claimed: (
            "%s opened %s as well as sqlite:///%s: alembic-gate redirects one database file it was not told of "
            "to the run's throwaway twin, so it refused the second. For a project of several databases, name "
            "each in an ini section of its own with its sqlalchemy.url and list them in the `databases` option, "
            "as `alembic init -t multidb` does." % (_who(), shown, claimed[1])
        ),
        "%s opened %s; redirected to its throwaway twin" % (_who(), shown),
    )
    return twin


def _connect(database, *args, **kwargs):
    if ROUTE.get("engine") == "sqlite" and ROUTE.get("twin") is not None:
        uri = bool(kwargs.get("uri")) or (len(args) >= 6 and bool(args[5]))
        twin = twin_for(database, uri)
        if twin is not None:
            database = twin
            if "uri" in kwargs:
                kwargs["uri"] = False
            elif len(args) >= 6:
                args = args[:5] + (False,) + args[6:]
    conn = _ORIGINAL["connect"](database, *args, **kwargs)
    if ROUTE.get("engine") == "sqlite" and ROUTE.get("twin") is not None:
        verify(conn)
    return conn


def verify(dbapi_connection):
    """The fail-closed check: the connection's main database is a file the gate handed out."""
    try:
        rows = dbapi_connection.execute("PRAGMA database_list").fetchall()
    except Exception:
        rows = None
    main = next((r[2] for r in rows or () if r[1] == "main"), None)
    if main == "" or (main and os.path.realpath(main) in _ours()):
        return
    try:
        dbapi_connection.close()
    except Exception:
        pass
    STATE["foreign"] = (
        "%s opened a SQLite connection that bypassed alembic-gate's redirect and landed on %s, not on the "
        "gate's throwaway file; alembic-gate closed it before any statement of the project's ran. Build the "
        "engine from sqlalchemy.url or DATABASE_URL." % (_who(), ("sqlite:///%s" % main) if main else "a database the gate could not identify")
    )
    raise GateError("foreign_database", STATE["foreign"])


def install():
    """Routes sqlite3.connect (which SQLAlchemy's pysqlite dialect calls too) through _connect."""
    if _ORIGINAL["connect"] is not None:
        return
    _ORIGINAL["connect"] = sqlite3.dbapi2.connect
    sqlite3.dbapi2.connect = _connect
    sqlite3.connect = _connect


def use_database(req):
    """cmd_database for a SQLite target: the twin files, the URLs env.py may read."""
    install()
    files = {os.path.realpath(req["twin"]["database"])}
    for section in req.get("sections") or []:
        files.add(os.path.realpath(section["twin"]["database"]))
    ROUTE["files"] = set(ROUTE.get("files") or ()) | files
