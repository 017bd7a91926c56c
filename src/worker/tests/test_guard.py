"""Connection identities of the guard: where a set of connect parameters points, how it is
shown, how a conninfo string parses, what a routed connection keeps, which databases are ours."""

import unittest

from alembic_gate_worker import state
from alembic_gate_worker.guard import _describe_where, _is_ours, _parse_conninfo, _routed_params, _where_of

TWIN = {"host": "127.0.0.1", "port": "55432", "user": "gate", "password": "pw", "database": "ag_twin_1", "sslmode": "disable"}


class WhereOf(unittest.TestCase):
    def test_libpq_keywords(self):
        self.assertEqual(_where_of({"host": "db.example", "port": 6432, "dbname": "app", "user": "deploy"}), ("db.example", "6432", "app", "deploy"))

    def test_defaults_port_5432_and_database_to_the_user(self):
        self.assertEqual(_where_of({"user": "bob"}), ("", "5432", "bob", "bob"))
        self.assertEqual(_where_of({}), ("", "5432", "", ""))

    def test_the_drivers_spellings(self):
        self.assertEqual(_where_of({"hostaddr": "10.0.0.1", "database": "app", "username": "u"}), ("10.0.0.1", "5432", "app", "u"))
        self.assertEqual(_where_of({"unix_sock": "/run/pg", "db": "app"}), ("/run/pg", "5432", "app", ""))
        self.assertEqual(_where_of({"unix_socket": "/tmp", "dbname": "x", "user": "u"}), ("/tmp", "5432", "x", "u"))

    def test_host_wins_over_hostaddr_and_dbname_over_database(self):
        self.assertEqual(_where_of({"host": "h", "hostaddr": "10.0.0.1", "dbname": "a", "database": "b", "user": "u"}), ("h", "5432", "a", "u"))


class DescribeWhere(unittest.TestCase):
    def test_url_form(self):
        self.assertEqual(_describe_where(("db.example", "5432", "app", "deploy")), "postgresql://deploy@db.example:5432/app")

    def test_no_user(self):
        self.assertEqual(_describe_where(("db", "5433", "app", "")), "postgresql://db:5433/app")

    def test_no_host_is_localhost_and_a_socket_is_named(self):
        self.assertEqual(_describe_where(("", "5432", "app", "u")), "postgresql://u@localhost:5432/app")
        self.assertEqual(_describe_where(("/var/run/postgresql", "5432", "app", "u")), "postgresql://u@[socket /var/run/postgresql]:5432/app")

    def test_scheme(self):
        self.assertEqual(_describe_where(("h", "3306", "app", "root"), "mysql"), "mysql://root@h:3306/app")


class ParseConninfo(unittest.TestCase):
    def test_key_value(self):
        self.assertEqual(
            _parse_conninfo("host=db port=6432 dbname=app user=deploy connect_timeout=5"),
            {"host": "db", "port": "6432", "dbname": "app", "user": "deploy", "connect_timeout": "5"},
        )

    def test_key_value_quoting_and_spaces_around_equals(self):
        self.assertEqual(
            _parse_conninfo("  host = db  password='it\\'s a secret' application_name='' "),
            {"host": "db", "password": "it's a secret", "application_name": ""},
        )

    def test_uri(self):
        self.assertEqual(
            _parse_conninfo("postgresql://deploy:p%40ss@db.example:6432/app?sslmode=require&application_name=web"),
            {"sslmode": "require", "application_name": "web", "user": "deploy", "password": "p@ss", "host": "db.example", "port": "6432", "dbname": "app"},
        )

    def test_uri_without_password_port_or_database(self):
        self.assertEqual(_parse_conninfo("postgres://deploy@db"), {"user": "deploy", "host": "db"})
        self.assertEqual(_parse_conninfo("postgresql://db.example/"), {"host": "db.example"})

    def test_uri_ipv6_and_socket_in_query(self):
        self.assertEqual(_parse_conninfo("postgresql://[::1]:5433/app"), {"host": "::1", "port": "5433", "dbname": "app"})
        self.assertEqual(_parse_conninfo("postgresql://[::1]/app"), {"host": "::1", "dbname": "app"})
        self.assertEqual(_parse_conninfo("postgresql:///app?host=/var/run/postgresql"), {"host": "/var/run/postgresql", "dbname": "app"})

    def test_uri_query_wins_over_netloc(self):
        # setdefault: a parameter of the query string is not overwritten by the authority's.
        self.assertEqual(_parse_conninfo("postgresql://a@h/app?user=b"), {"user": "b", "host": "h", "dbname": "app"})

    def test_empty(self):
        self.assertEqual(_parse_conninfo(""), {})


class RoutedParams(unittest.TestCase):
    PARAMS = {
        "host": "prod.example", "hostaddr": "10.1.2.3", "port": "5432", "dbname": "prod", "user": "admin",
        "password": "secret", "passfile": "/home/u/.pgpass", "service": "prod", "sslmode": "verify-full",
        "sslcert": "/c", "sslkey": "/k", "sslrootcert": "/ca", "sslpassword": "x", "sslcrl": "/crl",
        "target_session_attrs": "read-write", "dsn": "host=prod.example",
        "application_name": "web", "connect_timeout": "3", "options": "-c statement_timeout=0",
    }

    def test_drops_where_and_credentials_keeps_the_rest(self):
        self.assertEqual(
            _routed_params(dict(self.PARAMS), TWIN),
            {
                "application_name": "web", "connect_timeout": "3", "options": "-c statement_timeout=0",
                "host": "127.0.0.1", "port": 55432, "user": "gate", "dbname": "ag_twin_1",
                "password": "pw", "sslmode": "disable",
            },
        )

    def test_database_key_and_a_twin_without_password_or_sslmode(self):
        twin = {"host": "/tmp/ag", "port": "5432", "user": "gate", "database": "ag_twin_2"}
        got = _routed_params({"database": "prod", "user": "admin", "password": "secret", "unix_sock": "/x", "ssl": True}, twin, "database")
        self.assertEqual(got, {"ssl": True, "host": "/tmp/ag", "port": 5432, "user": "gate", "database": "ag_twin_2"})
        self.assertNotIn("password", got)

    def test_does_not_change_its_argument(self):
        params = dict(self.PARAMS)
        _routed_params(params, TWIN)
        self.assertEqual(params, self.PARAMS)


class IsOurs(unittest.TestCase):
    def setUp(self):
        saved = {k: state.ROUTE[k] for k in ("hosts", "ours")}
        self.addCleanup(state.ROUTE.update, saved)
        state.ROUTE["hosts"] = {"127.0.0.1", "localhost", "::1", "", "db-alias"}
        state.ROUTE["ours"] = {("55432", "ag_twin_1"), ("55432", "ag_twin_2")}

    def test_a_database_the_gate_handed_out(self):
        self.assertTrue(_is_ours(("127.0.0.1", "55432", "ag_twin_1", "gate")))
        self.assertTrue(_is_ours(("localhost", "55432", "ag_twin_2", "someone")))
        self.assertTrue(_is_ours(("db-alias", "55432", "ag_twin_1", "")))

    def test_another_port_database_or_host(self):
        self.assertFalse(_is_ours(("127.0.0.1", "5432", "ag_twin_1", "gate")))
        self.assertFalse(_is_ours(("127.0.0.1", "55432", "prod", "gate")))
        self.assertFalse(_is_ours(("prod.example", "55432", "ag_twin_1", "gate")))

    def test_port_is_compared_as_the_string_where_of_gives(self):
        self.assertTrue(_is_ours(_where_of({"host": "127.0.0.1", "port": 55432, "dbname": "ag_twin_1"})))
        self.assertFalse(_is_ours(("127.0.0.1", 55432, "ag_twin_1", "gate")))


if __name__ == "__main__":
    unittest.main()
