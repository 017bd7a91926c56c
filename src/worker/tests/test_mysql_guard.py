"""MySQL/MariaDB: where a driver's parameters point, what a routed connection keeps, the URL
env.py gets, the refusals; and, against the MariaDB server on 127.0.0.1:3306 (root, no
password), that a connection to a production URL lands on the twin with a notice and that one
which lands elsewhere is closed and refused."""

import copy
import importlib.util
import os
import sys
import tempfile
import types
import unittest
from unittest import mock

from alembic.config import Config

from alembic_gate_worker import guard
from alembic_gate_worker.errors import GateError
from alembic_gate_worker.guard import _describe_where, _on_do_connect, _verify_connection
from alembic_gate_worker.mysql_guard import routed_params, where_of
from alembic_gate_worker.session import _with_driver, cmd_database
from alembic_gate_worker.state import ROUTE, STATE

try:
    import pymysql
except ImportError:  # pragma: no cover - both stacks have bookworm's python3-pymysql
    pymysql = None
try:
    import MySQLdb
except ImportError:  # pragma: no cover - python3-mysqldb
    MySQLdb = None

TWIN = {"host": "127.0.0.1", "port": "33306", "user": "gate", "password": "pw", "database": "ag_twin_1"}
TWIN_URL = "mysql://gate:pw@127.0.0.1:33306/ag_twin_1"
WHO = "the project's code"  # no project root: no user frame to name


def setUpModule():
    guard._install_connection_guard()
    guard._install_driver_patches()


class Routed(unittest.TestCase):
    """A MySQL run's routing state, restored afterwards."""

    def setUp(self):
        saved_route = copy.deepcopy({k: v for k, v in ROUTE.items()})
        saved_state = {k: STATE[k] for k in ("config", "foreign", "root", "url")}
        self.addCleanup(lambda: (ROUTE.clear(), ROUTE.update(saved_route), STATE.update(saved_state)))
        STATE.update(config=Config(), foreign=None, root=None)
        ROUTE.update(
            engine="mysql", twin=dict(TWIN), marker="gate-host:33306:/tmp/ag/data/", mode="redirect",
            ours={("33306", "ag_twin_1")}, hosts={"127.0.0.1", "localhost", "::1", ""}, sections={}, section_of={},
            claimed=None, noticed=set(), notices=[], verified=None,
        )


class WhereOf(unittest.TestCase):
    def test_pymysql_spellings(self):
        self.assertEqual(where_of({"host": "db.example", "port": 3307, "user": "app", "password": "s", "database": "shop"}, "pymysql"), ("db.example", "3307", "shop", "app"))
        self.assertEqual(where_of({"host": "db.example", "user": "app", "passwd": "s", "db": "shop"}, "pymysql"), ("db.example", "3306", "shop", "app"))

    def test_mysqldb_spellings(self):
        self.assertEqual(where_of({"host": "db.example", "port": 3307, "user": "app", "passwd": "s", "db": "shop"}, "mysqldb"), ("db.example", "3307", "shop", "app"))
        self.assertEqual(where_of({"host": "db.example", "user": "app", "password": "s", "database": "shop"}, "mysqldb"), ("db.example", "3306", "shop", "app"))

    def test_database_wins_over_db_and_port_0_is_3306(self):
        # Both drivers take `database` when both are given; PyMySQL's default port is 0.
        self.assertEqual(where_of({"host": "h", "port": 0, "database": "a", "db": "b"}), ("h", "3306", "a", ""))
        self.assertEqual(where_of({}), ("", "3306", "", ""))

    def test_a_socket(self):
        # PyMySQL connects through unix_socket whenever it is given; the C client only for localhost or no host.
        params = {"host": "db.example", "unix_socket": "/run/mysqld/mysqld.sock", "db": "shop", "user": "u"}
        self.assertEqual(where_of(params, "pymysql"), ("/run/mysqld/mysqld.sock", "3306", "shop", "u"))
        self.assertEqual(where_of(params, "mysqldb"), ("db.example", "3306", "shop", "u"))
        self.assertEqual(where_of({"host": "localhost", "unix_socket": "/run/m.sock", "db": "shop"}, "mysqldb"), ("/run/m.sock", "3306", "shop", ""))
        self.assertEqual(where_of({"unix_socket": "/run/m.sock"}, "mysqldb"), ("/run/m.sock", "3306", "", ""))

    def test_an_option_file(self):
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "my.cnf")
            with open(path, "w") as f:
                f.write("!includedir /etc/mysql/conf.d/\n[client]\nhost = opt.example\nport=3310\nuser = opt\npassword = 'x'\ndatabase = optdb\n"
                        "[app]\nhost = app.example\ndefault-character-set = utf8mb4\n")
            self.assertEqual(where_of({"read_default_file": path}, "pymysql"), ("opt.example", "3310", "optdb", "opt"))
            # Explicit parameters win over the file's.
            self.assertEqual(where_of({"read_default_file": path, "host": "h", "db": "d"}, "mysqldb"), ("h", "3310", "d", "opt"))
            # PyMySQL reads the one group; the C client [client] and then the group.
            self.assertEqual(where_of({"read_default_file": path, "read_default_group": "app"}, "pymysql"), ("app.example", "3306", "", ""))
            self.assertEqual(where_of({"read_default_file": path, "read_default_group": "app"}, "mysqldb"), ("app.example", "3310", "optdb", "opt"))
        self.assertEqual(where_of({"read_default_file": "/nonexistent/my.cnf", "host": "h"}, "pymysql"), ("h", "3306", "", ""))

    def test_shown(self):
        self.assertEqual(_describe_where(where_of({"host": "db.example", "user": "app", "database": "shop"}), "mysql"), "mysql://app@db.example:3306/shop")
        self.assertEqual(_describe_where(where_of({"unix_socket": "/run/m.sock", "db": "shop"}, "mysqldb"), "mariadb"), "mariadb://[socket /run/m.sock]:3306/shop")
        self.assertEqual(_describe_where(where_of({"database": "shop"}), "mysql"), "mysql://localhost:3306/shop")


class RoutedParams(unittest.TestCase):
    WHERE = {
        "host": "prod.example", "port": 3306, "user": "admin", "password": "secret", "passwd": "old",
        "database": "prod", "db": "prod2", "unix_socket": "/run/mysqld/mysqld.sock",
        "read_default_file": "/etc/mysql/prod.cnf", "read_default_group": "prod",
        "ssl": {"ca": "/ca.pem"}, "ssl_ca": "/ca.pem", "ssl_verify_identity": True, "ssl_disabled": False,
        "ssl_mode": "VERIFY_IDENTITY", "server_public_key": "-----BEGIN", "bind_address": "10.0.0.5",
        "auth_plugin": "mysql_clear_password", "named_pipe": None,
    }
    KEPT = {
        "charset": "utf8mb4", "init_command": "SET time_zone = '+00:00'", "autocommit": True, "client_flag": 2,
        "connect_timeout": 5, "sql_mode": "ANSI_QUOTES", "local_infile": 1, "program_name": "web",
        "binary_prefix": True, "use_unicode": True, "conv": {1: int},
    }

    def test_pymysql(self):
        self.assertEqual(
            routed_params(dict(self.WHERE, **self.KEPT), TWIN, "pymysql"),
            dict(self.KEPT, host="127.0.0.1", port=33306, user="gate", password="pw", database="ag_twin_1"),
        )

    def test_mysqldb(self):
        self.assertEqual(
            routed_params(dict(self.WHERE, **self.KEPT), TWIN, "mysqldb"),
            dict(self.KEPT, host="127.0.0.1", port=33306, user="gate", passwd="pw", db="ag_twin_1"),
        )

    def test_a_twin_without_password_a_localhost_twin_and_a_socket_twin(self):
        twin = {"host": "localhost", "port": "3306", "user": "root", "database": "ag_twin_2"}
        self.assertEqual(routed_params({"host": "h", "passwd": "x"}, twin, "mysqldb"), {"host": "127.0.0.1", "port": 3306, "user": "root", "passwd": "", "db": "ag_twin_2"})
        twin = dict(twin, host="/tmp/ag/mysqld.sock")
        self.assertEqual(routed_params({"charset": "utf8"}, twin, "pymysql"), {"charset": "utf8", "unix_socket": "/tmp/ag/mysqld.sock", "host": "localhost", "port": 3306, "user": "root", "password": "", "database": "ag_twin_2"})

    def test_tls_options_of_the_gates_own_url_are_kept_and_a_twins_sent(self):
        params = {"host": "127.0.0.1", "database": "ag_twin_1", "ssl": {"ca": "/gate/ca.pem"}, "ssl_mode": "REQUIRED", "charset": "utf8"}
        self.assertEqual(routed_params(params, TWIN, "mysqldb", ours=True),
                         {"ssl": {"ca": "/gate/ca.pem"}, "ssl_mode": "REQUIRED", "charset": "utf8", "host": "127.0.0.1", "port": 33306, "user": "gate", "passwd": "pw", "db": "ag_twin_1"})
        twin = dict(TWIN, ssl={"ca": "/gate/ca.pem", "check_hostname": False})
        self.assertEqual(routed_params({"host": "prod", "ssl_ca": "/prod/ca.pem", "ssl_verify_identity": True}, twin, "pymysql"),
                         {"ssl": {"ca": "/gate/ca.pem", "check_hostname": False}, "host": "127.0.0.1", "port": 33306, "user": "gate", "password": "pw", "database": "ag_twin_1"})

    def test_another_driver_keeps_its_callers_spelling(self):
        got = routed_params({"host": "h", "username": "u", "password": "p", "database": "d", "autocommit": False}, TWIN, "mariadbconnector")
        self.assertEqual(got, {"autocommit": False, "host": "127.0.0.1", "port": 33306, "username": "gate", "password": "pw", "database": "ag_twin_1"})
        self.assertEqual(routed_params({"db": "d", "passwd": "p"}, TWIN, "aiomysql"), {"host": "127.0.0.1", "port": 33306, "user": "gate", "password": "pw", "db": "ag_twin_1"})

    def test_does_not_change_its_argument(self):
        params = dict(self.WHERE, **self.KEPT)
        routed_params(params, TWIN, "pymysql")
        self.assertEqual(params, dict(self.WHERE, **self.KEPT))


def installed(name):
    return importlib.util.find_spec(name) is not None


class WithDriver(unittest.TestCase):
    def setUp(self):
        saved = STATE["config"]
        self.addCleanup(STATE.__setitem__, "config", saved)
        self.cfg = Config()
        STATE["config"] = self.cfg

    def own(self, url, section=None):
        if section:
            self.cfg.set_section_option(section, "sqlalchemy.url", url)
        else:
            self.cfg.set_main_option("sqlalchemy.url", url)

    def test_keeps_the_projects_dialect_word_and_driver(self):
        for own, want in (
            ("mysql+pymysql://shop:pw@db.internal:3306/shop", "mysql+pymysql"),
            ("mysql+mysqldb://shop@db.internal/shop?charset=utf8mb4", "mysql+mysqldb"),
            ("mariadb+pymysql://shop@db.internal/shop", "mariadb+pymysql"),
            ("mariadb+mariadbconnector://shop@db.internal/shop", "mariadb+mariadbconnector"),
            ("mysql+asyncmy://shop@db.internal/shop", "mysql+asyncmy"),
        ):
            with self.subTest(own=own):
                self.own(own)
                self.assertEqual(_with_driver(TWIN_URL), want + "://gate:pw@127.0.0.1:33306/ag_twin_1")

    def test_keeps_a_sections_driver(self):
        self.own("mysql+pymysql://app@db/main")
        self.own("mariadb+mysqldb://app@db/engine2", section="engine2")
        self.assertEqual(_with_driver(TWIN_URL, "engine2"), "mariadb+mysqldb://gate:pw@127.0.0.1:33306/ag_twin_1")
        self.assertEqual(_with_driver(TWIN_URL), "mysql+pymysql://gate:pw@127.0.0.1:33306/ag_twin_1")

    @unittest.skipUnless(installed("pymysql"), "pymysql is not installed")
    def test_picks_pymysql_then_mysqldb(self):
        for own in (None, "mysql://app@db/shop", "postgresql://app@db/shop", "${DATABASE_URL}", "driver://user:pass@localhost/dbname"):
            with self.subTest(own=own):
                if own is not None:
                    self.own(own)
                self.assertEqual(_with_driver(TWIN_URL), "mysql+pymysql://gate:pw@127.0.0.1:33306/ag_twin_1")
        self.own("mariadb://app@db/shop")  # the MariaDB dialect, a driver picked
        self.assertEqual(_with_driver(TWIN_URL), "mariadb+pymysql://gate:pw@127.0.0.1:33306/ag_twin_1")
        self.own("mysql://app@db/shop")
        with mock.patch.dict(sys.modules, {"pymysql": None}):  # None in sys.modules: ImportError
            got = _with_driver(TWIN_URL)
        self.assertEqual(got, "mysql+mysqldb://gate:pw@127.0.0.1:33306/ag_twin_1" if installed("MySQLdb") else TWIN_URL)
        with mock.patch.dict(sys.modules, {"pymysql": None, "MySQLdb": None}):
            self.assertEqual(_with_driver(TWIN_URL), TWIN_URL)

    def test_without_a_config(self):
        STATE["config"] = None
        scheme = "mysql+pymysql" if installed("pymysql") else "mysql+mysqldb" if installed("MySQLdb") else "mysql"
        self.assertEqual(_with_driver(TWIN_URL), scheme + "://gate:pw@127.0.0.1:33306/ag_twin_1")


class CmdDatabase(Routed):
    def test_urls_and_the_variable_families(self):
        STATE["config"].set_main_option("sqlalchemy.url", "mysql+pymysql://shop:secret@db.internal:3306/shop")
        env = {"PATH": os.environ.get("PATH", ""), "MYSQL_HOST": "job.example", "DB_NAME": "jobs_db"}
        req = {
            "engine": "mysql", "twin": {"host": "127.0.0.1", "port": 33306, "user": "gate", "password": "pw", "database": "ag_twin_7"},
            "marker": "gate-host:33306:/tmp/ag/data/", "aliases": [], "url": "mysql://gate:pw@127.0.0.1:33306/ag_twin_7",
            "plainUrl": "mysql://gate:pw@127.0.0.1:33306/ag_twin_7", "mode": "redirect", "envVars": ["APP_DB"],
        }
        with mock.patch.dict(os.environ, env, clear=True):
            ROUTE["env"] = set()
            self.assertEqual(cmd_database(req), {})
            got = dict(os.environ)
        self.assertEqual(got, {
            "PATH": env["PATH"], "MYSQL_HOST": "job.example", "DB_NAME": "jobs_db",  # the job's own, kept
            "DATABASE_URL": "mysql://gate:pw@127.0.0.1:33306/ag_twin_7",
            "APP_DB": "mysql+pymysql://gate:pw@127.0.0.1:33306/ag_twin_7",
            "MYSQL_PORT": "33306", "MYSQL_USER": "gate", "MYSQL_PASSWORD": "pw", "MYSQL_DATABASE": "ag_twin_7", "MYSQL_DB": "ag_twin_7",
            "DB_HOST": "127.0.0.1", "DB_PORT": "33306", "DB_USER": "gate", "DB_PASSWORD": "pw",
        })
        self.assertEqual(STATE["config"].get_main_option("sqlalchemy.url"), "mysql+pymysql://gate:pw@127.0.0.1:33306/ag_twin_7")
        self.assertEqual((ROUTE["engine"], ROUTE["twin"]["port"], ROUTE["marker"]), ("mysql", "33306", "gate-host:33306:/tmp/ag/data/"))
        self.assertIn(("33306", "ag_twin_7"), ROUTE["ours"])
        # The next database: the variables the gate set follow it, the job's stay.
        req = dict(req, twin=dict(req["twin"], database="ag_twin_8"), url="mysql://gate:pw@127.0.0.1:33306/ag_twin_8", plainUrl=None)
        with mock.patch.dict(os.environ, dict(got), clear=True):
            cmd_database(req)
            self.assertEqual((os.environ["DATABASE_URL"], os.environ["MYSQL_DATABASE"], os.environ["DB_NAME"], os.environ["MYSQL_HOST"]),
                             ("mysql://gate:pw@127.0.0.1:33306/ag_twin_8", "ag_twin_8", "jobs_db", "job.example"))

    def test_multidb_sections(self):
        cfg = STATE["config"]
        cfg.set_section_option("engine1", "sqlalchemy.url", "mysql+mysqldb://a@db/one")
        cfg.set_section_option("engine2", "sqlalchemy.url", "mariadb+pymysql://a@db/two")
        req = {
            "engine": "mysql", "twin": {"host": "127.0.0.1", "port": 33306, "user": "gate", "password": "", "database": "ag_one"},
            "marker": "m", "url": "mysql://gate@127.0.0.1:33306/ag_one", "section": "engine1",
            "sections": [{"name": "engine2", "url": "mysql://gate@127.0.0.1:33306/ag_two", "twin": {"host": "127.0.0.1", "port": 33306, "user": "gate", "password": "", "database": "ag_two"}}],
        }
        with mock.patch.dict(os.environ, {}, clear=True):
            cmd_database(req)
            self.assertEqual(os.environ["MYSQL_PASSWORD"], "")
        self.assertEqual(cfg.get_section_option("engine1", "sqlalchemy.url"), "mysql+mysqldb://gate@127.0.0.1:33306/ag_one")
        self.assertEqual(cfg.get_section_option("engine2", "sqlalchemy.url"), "mariadb+pymysql://gate@127.0.0.1:33306/ag_two")
        self.assertEqual(ROUTE["sections"], {"engine2": {"host": "127.0.0.1", "port": "33306", "user": "gate", "password": "", "database": "ag_two"}})
        self.assertEqual(ROUTE["section_of"][("33306", "ag_two")], "engine2")


def dialect(name, driver):
    return types.SimpleNamespace(name=name, driver=driver)


class DoConnect(Routed):
    PROD = {"host": "db.example", "user": "app", "password": "secret", "database": "prod", "charset": "utf8mb4", "client_flag": 2}

    def test_redirected_with_a_notice(self):
        cargs, cparams = [], dict(self.PROD)
        self.assertIsNone(_on_do_connect(dialect("mysql", "pymysql"), None, cargs, cparams))
        self.assertEqual((cargs, cparams), ([], {"charset": "utf8mb4", "client_flag": 2, "host": "127.0.0.1", "port": 33306, "user": "gate", "password": "pw", "database": "ag_twin_1"}))
        cparams = {"host": "db.example", "user": "app", "passwd": "secret", "db": "prod", "unix_socket": "/run/m.sock"}
        _on_do_connect(dialect("mariadb", "mysqldb"), None, [], cparams)
        self.assertEqual(cparams, {"host": "127.0.0.1", "port": 33306, "user": "gate", "passwd": "pw", "db": "ag_twin_1"})
        # One foreign database, noticed once (the second connect is the same database as the first).
        self.assertEqual(ROUTE["notices"], ["%s connected to mysql://app@db.example:3306/prod; redirected to its throwaway twin" % WHO])
        self.assertEqual(ROUTE["claimed"], ("db.example", "3306", "prod"))

    def test_a_url_the_gate_handed_out_and_a_sections(self):
        ROUTE["sections"] = {"engine2": dict(TWIN, database="ag_twin_2")}
        ROUTE["ours"].add(("33306", "ag_twin_2"))
        ROUTE["section_of"][("33306", "ag_twin_2")] = "engine2"
        cparams = {"host": "localhost", "port": 33306, "user": "someone", "database": "ag_twin_2"}
        _on_do_connect(dialect("mysql", "pymysql"), None, [], cparams)
        self.assertEqual(cparams, {"host": "127.0.0.1", "port": 33306, "user": "gate", "password": "pw", "database": "ag_twin_2"})
        self.assertEqual(ROUTE["notices"], [])

    def test_a_second_foreign_database_is_refused(self):
        _on_do_connect(dialect("mysql", "pymysql"), None, [], dict(self.PROD))
        with self.assertRaises(GateError) as raised:
            _on_do_connect(dialect("mysql", "pymysql"), None, [], dict(self.PROD, database="audit"))
        self.assertEqual(raised.exception.kind, "foreign_database")
        self.assertEqual(
            raised.exception.message,
            "%s connected to mysql://app@db.example:3306/audit as well as to mysql://db.example:3306/prod: alembic-gate redirects one "
            "database it was not told of to the run's throwaway twin, so it refused the second. For a project of several databases, "
            "name each in an ini section of its own with its sqlalchemy.url and list them in the `databases` option, as "
            "`alembic init -t multidb` does: every section then gets a twin." % WHO,
        )

    def test_refuse_mode(self):
        ROUTE["mode"] = "refuse"
        cparams = dict(self.PROD)
        with self.assertRaises(GateError) as raised:
            _on_do_connect(dialect("mysql", "pymysql"), None, [], cparams)
        self.assertEqual(raised.exception.kind, "foreign_database")
        self.assertEqual(
            raised.exception.message,
            "%s tried to connect to mysql://app@db.example:3306/prod, which is not the gate's throwaway database; alembic-gate "
            "refused the connection (--foreign-connections refuse). Make env.py take its URL from "
            "config.get_main_option('sqlalchemy.url') or from the DATABASE_URL environment variable (alembic-gate sets both), "
            "name the variable env.py reads with --url-env, or let the gate redirect the connection "
            "(--foreign-connections redirect, the default)." % WHO,
        )
        self.assertEqual(STATE["foreign"], raised.exception.message)
        self.assertEqual(cparams, self.PROD)  # nothing was routed
        # The gate's own database still connects.
        _on_do_connect(dialect("mysql", "pymysql"), None, [], {"host": "127.0.0.1", "port": 33306, "user": "gate", "database": "ag_twin_1"})

    def refusal(self, name, driver, cargs, cparams):
        with self.assertRaises(GateError) as raised:
            _on_do_connect(dialect(name, driver), None, cargs, cparams)
        self.assertEqual(raised.exception.kind, "foreign_database")
        return raised.exception.message

    def test_postgresql_and_sqlite_during_a_mysql_run(self):
        self.assertEqual(
            self.refusal("postgresql", "psycopg2", [], {"host": "db.example", "dbname": "prod", "user": "app", "password": "x"}),
            "%s connected to postgresql://app@db.example:5432/prod: alembic-gate runs this project on a throwaway MySQL/MariaDB "
            "database (from its sqlalchemy.url, or --engine), so it refused the connection. If production runs on MySQL/MariaDB, "
            "point env.py at sqlalchemy.url or DATABASE_URL; if it runs on PostgreSQL, pass --engine postgresql." % WHO,
        )
        self.assertEqual(
            self.refusal("sqlite", "pysqlite", ["app.db"], {}),
            "%s connected to sqlite:///app.db: alembic-gate runs this project on a throwaway MySQL/MariaDB database (from its "
            "sqlalchemy.url, or --engine), so it refused the connection. If production runs on MySQL/MariaDB, point env.py at "
            "sqlalchemy.url or DATABASE_URL; if it runs on SQLite, pass --engine sqlite." % WHO,
        )
        self.assertTrue(self.refusal("mssql", "pyodbc", [], {"host": "sql.example"}).endswith(
            "If production runs on MySQL/MariaDB, point env.py at sqlalchemy.url or DATABASE_URL; alembic-gate has no mssql engine."))

    def test_mysql_and_mariadb_during_a_postgresql_run(self):
        ROUTE["engine"] = "postgresql"
        self.assertEqual(
            self.refusal("mariadb", "pymysql", [], {"host": "db.example", "user": "app", "database": "shop"}),
            "%s connected to mariadb://app@db.example:3306/shop: alembic-gate runs this project on a throwaway PostgreSQL database "
            "(from its sqlalchemy.url, or --engine), so it refused the connection. If production runs on PostgreSQL, point env.py "
            "at sqlalchemy.url or DATABASE_URL; if it runs on MySQL/MariaDB, pass --engine mysql." % WHO,
        )

    def test_a_postgresql_driver_called_directly_during_a_mysql_run(self):
        calls = []
        fake = types.SimpleNamespace(connect=lambda *a, **k: calls.append((a, k)))
        guard._patch_psycopg2(fake)
        with self.assertRaises(GateError) as raised:
            fake.connect("host=db.example dbname=prod user=app")
        self.assertTrue(raised.exception.message.startswith("%s connected to postgresql://app@db.example:5432/prod: alembic-gate runs this project on a throwaway MySQL/MariaDB database" % WHO))
        self.assertEqual(calls, [])
        ROUTE["twin"] = None  # no run: passed through
        fake.connect("host=db.example")
        self.assertEqual(calls, [(("host=db.example",), {"connection_factory": None, "cursor_factory": None})])


@unittest.skipIf(pymysql is None, "pymysql is not installed")
class PyMySQLDirect(Routed):
    """pymysql.connect / pymysql.connections.Connection routed before any socket is opened
    (defer_connect: the parameters are on the object)."""

    def test_connect_and_the_class_and_a_subclass(self):
        class Mine(pymysql.connections.Connection):
            pass

        for make in (pymysql.connect, pymysql.Connection, pymysql.connections.Connection, Mine):
            with self.subTest(make=make):
                conn = make(host="db.example", port=3307, user="app", passwd="secret", db="prod", unix_socket="/run/m.sock",
                            charset="utf8", init_command="SET autocommit=1", ssl_ca="/ca.pem", defer_connect=True)
                self.assertEqual((conn.host, conn.port, conn.user, conn.password, conn.db, conn.unix_socket, conn.charset, conn.ssl),
                                 ("127.0.0.1", 33306, "gate", b"pw", "ag_twin_1", None, "utf8", False))
                self.assertEqual(conn.init_command, "SET autocommit=1")
        self.assertEqual(ROUTE["notices"], ["%s connected to mysql://app@[socket /run/m.sock]:3307/prod; redirected to its throwaway twin" % WHO])

    def test_refused_during_a_postgresql_run_and_untouched_outside_a_run(self):
        ROUTE["engine"] = "postgresql"
        with self.assertRaises(GateError) as raised:
            pymysql.connect(host="db.example", user="app", database="prod", defer_connect=True)
        self.assertTrue(raised.exception.message.startswith(
            "%s connected to mysql://app@db.example:3306/prod: alembic-gate runs this project on a throwaway PostgreSQL database" % WHO))
        ROUTE["twin"] = None
        conn = pymysql.connect(host="db.example", user="app", database="prod", defer_connect=True)
        self.assertEqual((conn.host, conn.user, conn.db), ("db.example", "app", "prod"))


# --- against the real server ------------------------------------------------------------------
SERVER = {"host": "127.0.0.1", "port": 3306, "user": "root", "password": ""}
DB = "ag_guard_test_%d" % os.getpid()
DB2 = DB + "_b"
_live = {"skip": None, "marker": None}


def _raw(**kw):
    """A connection made outside any run (ROUTE["twin"] None: not routed)."""
    saved = ROUTE["twin"]
    ROUTE["twin"] = None
    try:
        return pymysql.connect(**dict(SERVER, **kw))
    finally:
        ROUTE["twin"] = saved


def setUpLive():
    if _live["marker"] is not None or _live["skip"] is not None:
        return
    if pymysql is None:
        _live["skip"] = "pymysql is not installed"
    else:
        try:
            conn = _raw(connect_timeout=3)
        except Exception as exc:
            _live["skip"] = "no MariaDB/MySQL server for root on 127.0.0.1:3306 (%s)" % exc
        else:
            with conn.cursor() as cur:
                for name in (DB, DB2):
                    cur.execute("CREATE DATABASE `%s`" % name)
                cur.execute("SELECT CONCAT(@@hostname, ':', @@port, ':', @@datadir)")
                _live["marker"] = cur.fetchone()[0]
            conn.close()
    if _live["skip"]:
        print("\ntest_mysql_guard: live tests skipped: %s" % _live["skip"], file=sys.stderr)


def tearDownModule():
    if _live["marker"] is not None:
        conn = _raw()
        with conn.cursor() as cur:
            for name in (DB, DB2):
                cur.execute("DROP DATABASE IF EXISTS `%s`" % name)
        conn.close()


class Live(Routed):
    def setUp(self):
        setUpLive()
        if _live["skip"]:
            self.skipTest(_live["skip"])
        super().setUp()
        saved_env = dict(os.environ)
        self.addCleanup(lambda: (os.environ.clear(), os.environ.update(saved_env)))
        url = "mysql://root@127.0.0.1:3306/" + DB
        cmd_database({
            "engine": "mysql", "twin": dict(SERVER, database=DB), "marker": _live["marker"], "aliases": [], "url": url, "plainUrl": url,
            "mode": "redirect",
            "sections": [{"name": "engine2", "url": "mysql://root@127.0.0.1:3306/" + DB2, "twin": dict(SERVER, database=DB2)}],
        })

    def engine(self, url, **kw):
        import sqlalchemy
        from sqlalchemy.pool import NullPool

        engine = sqlalchemy.create_engine(url, poolclass=NullPool, **kw)
        self.addCleanup(engine.dispose)
        return engine

    def database_of(self, engine):
        from sqlalchemy import text

        with engine.connect() as conn:
            return conn.execute(text("SELECT DATABASE()")).scalar()

    def drivers(self):
        return ["pymysql"] + (["mysqldb"] if MySQLdb is not None else [])

    def test_a_production_url_lands_on_the_twin_with_a_notice(self):
        for driver in self.drivers():
            with self.subTest(driver=driver):
                ROUTE.update(claimed=None, noticed=set(), notices=[])
                engine = self.engine("mysql+%s://nobody@db.example:3306/prod" % driver)
                self.assertEqual(self.database_of(engine), DB)
                self.assertEqual(ROUTE["notices"], ["%s connected to mysql://nobody@db.example:3306/prod; redirected to its throwaway twin" % WHO])
                self.assertIsNone(STATE["foreign"])

    def test_the_url_the_gate_handed_out_and_a_sections(self):
        self.assertEqual(self.database_of(self.engine(STATE["config"].get_main_option("sqlalchemy.url"))), DB)
        self.assertEqual(self.database_of(self.engine("mariadb+pymysql://root@localhost:3306/" + DB2)), DB2)
        self.assertEqual(ROUTE["notices"], [])

    def test_creator_and_direct_driver_calls(self):
        engine = self.engine("mysql+pymysql://", creator=lambda: pymysql.connect(host="db.example", user="nobody", password="x", database="prod"))
        self.assertEqual(self.database_of(engine), DB)
        conn = pymysql.connections.Connection(host="db.example", user="nobody", password="x", database="prod")
        with conn.cursor() as cur:
            cur.execute("SELECT DATABASE()")
            self.assertEqual(cur.fetchone(), (DB,))
        conn.close()
        if MySQLdb is None:
            print("\ntest_mysql_guard: MySQLdb is not installed: its direct calls are not tested", file=sys.stderr)
            return
        connections = importlib.import_module("MySQLdb.connections")
        for make in (MySQLdb.connect, MySQLdb.Connect, MySQLdb.Connection, connections.Connection):
            with self.subTest(make=make):
                conn = make(host="db.example", user="nobody", passwd="x", db="prod", unix_socket="/run/nowhere.sock", charset="utf8mb4")
                cur = conn.cursor()
                cur.execute("SELECT DATABASE(), @@character_set_client")
                self.assertEqual(cur.fetchone(), (DB, "utf8mb4"))
                conn.close()
        conn = MySQLdb.connect("db.example", "nobody", "x", "prod")  # positional, in _mysql's order
        cur = conn.cursor()
        cur.execute("SELECT DATABASE()")
        self.assertEqual(cur.fetchone(), (DB,))
        conn.close()
        engine = self.engine("mysql+mysqldb://", creator=lambda: MySQLdb.connect(host="db.example", user="nobody", db="prod"))
        self.assertEqual(self.database_of(engine), DB)
        self.assertEqual(ROUTE["notices"], ["%s connected to mysql://nobody@db.example:3306/prod; redirected to its throwaway twin" % WHO])

    def landed_elsewhere(self, engine):
        with self.assertRaises(GateError) as raised:
            engine.connect()
        self.assertEqual(raised.exception.kind, "foreign_database")
        self.assertEqual(STATE["foreign"], raised.exception.message)
        return raised.exception.message

    def test_a_connection_on_another_database_is_closed_and_refused(self):
        # init_command is the project's and is kept: it moves the routed connection elsewhere.
        engine = self.engine("mysql+pymysql://nobody@db.example:3306/prod", connect_args={"init_command": "USE information_schema"})
        self.assertEqual(
            self.landed_elsewhere(engine),
            "%s opened a database connection that bypassed alembic-gate's redirect and landed on "
            "mysql://root@127.0.0.1:3306/information_schema, not on the gate's throwaway database; alembic-gate closed it "
            "before any statement of the project's ran. Build the engine from sqlalchemy.url or DATABASE_URL (or with "
            "pymysql or MySQLdb), which the gate redirects." % WHO,
        )
        # The check itself, on connections of both drivers made outside the gate's routing.
        conn = _raw(database="mysql")
        with self.assertRaises(GateError) as raised:
            _verify_connection(conn, None)
        self.assertFalse(conn.open)
        self.assertIn(" landed on mysql://root@127.0.0.1:3306/mysql, not on ", raised.exception.message)
        if MySQLdb is not None:
            ROUTE["twin"], twin = None, ROUTE["twin"]
            try:
                conn = MySQLdb.connect(host="127.0.0.1", port=3306, user="root", db="mysql")
            finally:
                ROUTE["twin"] = twin
            with self.assertRaises(GateError) as raised:
                _verify_connection(conn, None)
            self.assertFalse(conn.open)
            self.assertIn(" landed on mysql://127.0.0.1:3306/mysql, not on ", raised.exception.message)

    def test_the_twins_database_on_another_server_is_refused(self):
        conn = _raw(database=DB)
        _verify_connection(conn, None)  # the twin: passes, stays open
        self.assertTrue(conn.open)
        conn.close()
        ROUTE["marker"] = "elsewhere:3306:/srv/mysql/"
        conn = _raw(database=DB2)
        with self.assertRaises(GateError) as raised:
            _verify_connection(conn, None)
        self.assertFalse(conn.open)
        self.assertIn(" landed on mysql://root@127.0.0.1:3306/%s (server %s, not the gate's), not on " % (DB2, _live["marker"]), raised.exception.message)

    def test_mysql_connections_are_never_kept(self):
        from alembic_gate_worker.state import _REUSE

        engine = self.engine(STATE["config"].get_main_option("sqlalchemy.url"))
        self.database_of(engine)
        self.database_of(engine)
        self.assertIsNone(_REUSE["conn"])


if __name__ == "__main__":
    unittest.main()
