"""The throwaway database of the moment (cmd_database, the URL env.py gets) and the one
connection kept for consecutive steps."""

import os

from .state import _REUSE, ROUTE, STATE


# --- one connection for consecutive steps ------------------------------------------------------
# env.py usually builds an engine with NullPool on every run, so each step would open a new
# PostgreSQL session: a backend fork, authentication and cold catalog caches, about 5 ms a
# step on the server, three steps a revision. The gate keeps one psycopg2 connection to the
# throwaway database instead: do_connect hands it out while it is idle, and the dialect's
# close puts it back after resetting the session (ROLLBACK, DISCARD ALL, psycopg2's reset:
# temp tables, settings, roles, advisory locks, prepared statements and the connection's
# autocommit/isolation all back to a new session's). A second connection open at the same
# time, another driver, or a connection that fails its reset gets the ordinary path.
# What it keeps is _REUSE (state.py), which the connection guard reads too.


def _reused_connection(dialect, cargs, cparams):
    if getattr(dialect, "driver", None) != "psycopg2" or (ROUTE.get("engine") or "postgresql") != "postgresql":
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


# --- pointing Alembic at the throwaway database ------------------------------------------------
# Spellings of loopback: when the twin is on it, a URL with any of them names the gate's server.
_LOOPBACK = {"127.0.0.1", "localhost", "::1", ""}


def _own_scheme(section=None):
    """The scheme (dialect+driver) of the URL the project's configuration names, or ""."""
    try:
        cfg = STATE["config"]
        own = (cfg.get_section_option(section, "sqlalchemy.url") if section else cfg.get_main_option("sqlalchemy.url")) or ""
    except Exception:
        own = ""
    return own.split("://", 1)[0] if "://" in own else ""


def _importable(module):
    try:
        __import__(module)
        return True
    except ImportError:
        return False


def _with_driver(url, section=None):
    """Keep the driver the project's own URL names (postgresql+asyncpg://..., sqlite+aiosqlite://...,
    mariadb+mariadbconnector://...); else pick an installed one, so env.py gets a URL its engine can use."""
    if url.startswith("sqlite://"):
        scheme = _own_scheme(section)
        return scheme + url[len("sqlite"):] if scheme.startswith("sqlite+") else url
    if url.startswith("mysql://"):
        # The project's dialect word (mysql, or mariadb: SQLAlchemy's MariaDB dialect) and driver.
        word, _, driver = _own_scheme(section).partition("+")
        if word not in ("mysql", "mariadb"):
            word, driver = "mysql", ""
        if not driver:
            driver = next((name for module, name in (("pymysql", "pymysql"), ("MySQLdb", "mysqldb")) if _importable(module)), "")
        return "%s%s://%s" % (word, "+" + driver if driver else "", url.split("://", 1)[1])
    if not url.startswith("postgresql://"):
        return url
    scheme = _own_scheme(section)
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
    engine = req.get("engine") or "postgresql"
    ROUTE.update(twin=twin, marker=req.get("marker"), mode=req.get("mode") or "redirect", engine=engine)
    if engine == "sqlite":
        from .sqlite_guard import use_database

        use_database(req)
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
    # DATABASE_URL as libpq and most frameworks take it (MySQL: the plain mysql://user:pw@host:port/db);
    # variables named with --url-env hold the SQLAlchemy URL, driver included.
    os.environ["DATABASE_URL"] = req.get("plainUrl") or (req["url"] if engine == "mysql" else url)
    for name in req.get("envVars") or []:
        os.environ[name] = url
    # The variable families projects compose their URL from, where the job has not set them.
    password = twin.get("password") or ""
    if engine == "postgresql":
        family = {
            "PGHOST": twin["host"], "PGPORT": twin["port"], "PGUSER": twin["user"],
            "PGPASSWORD": password, "PGDATABASE": twin["database"],
            "POSTGRES_SERVER": twin["host"], "POSTGRES_HOST": twin["host"], "POSTGRES_PORT": twin["port"],
            "POSTGRES_USER": twin["user"], "POSTGRES_PASSWORD": password,
            "POSTGRES_DB": twin["database"],
        }
    elif engine == "mysql":
        # MYSQL_*: the official mysql/mariadb images' variables, which projects' settings reuse.
        # DB_*: the generic family MySQL projects compose their URL from as often
        # (f"mysql+pymysql://{DB_USER}:{DB_PASSWORD}@{DB_HOST}:{DB_PORT}/{DB_NAME}").
        family = {
            "MYSQL_HOST": twin["host"], "MYSQL_PORT": twin["port"], "MYSQL_USER": twin["user"],
            "MYSQL_PASSWORD": password, "MYSQL_DATABASE": twin["database"], "MYSQL_DB": twin["database"],
            "DB_HOST": twin["host"], "DB_PORT": twin["port"], "DB_USER": twin["user"],
            "DB_PASSWORD": password, "DB_NAME": twin["database"],
        }
    else:
        return {}
    for name, value in family.items():
        if name in ROUTE["env"] or name not in os.environ:
            ROUTE["env"].add(name)
            os.environ[name] = value
    return {}


def cmd_release(req):
    """Closes the connection kept between steps: a database with a session open cannot be copied."""
    _forget_reused()
    return {}
