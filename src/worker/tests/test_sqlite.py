"""SQLite: the inspector's snapshot (what compares equal after a batch-mode rebuild, what a
forgotten index or NOT NULL looks like) and the guard's routing of sqlite3 connections."""

import os
import sqlite3
import tempfile
import unittest

from alembic_gate_worker import sqlite_guard
from alembic_gate_worker.errors import GateError
from alembic_gate_worker.sqlite_inspect import _default, _parse_table, _spaced, _tokens, snapshot, versions
from alembic_gate_worker.state import ROUTE, STATE

USERS = """CREATE TABLE users (
    id INTEGER NOT NULL,
    email VARCHAR(120) NOT NULL,
    age integer DEFAULT (0),
    CONSTRAINT pk_users PRIMARY KEY (id),
    CONSTRAINT uq_users_email UNIQUE (email),
    CONSTRAINT ck_age CHECK (age >= 0)
)"""

# What Alembic's batch mode runs for a change that keeps the table as it was: a copy, written
# its own way, moved into place.
BATCH = """CREATE TABLE _alembic_tmp_users (
	id INTEGER NOT NULL, 
	email VARCHAR(120) NOT NULL, 
	age INTEGER DEFAULT (0), 
	CONSTRAINT pk_users PRIMARY KEY (id), 
	CONSTRAINT uq_users_email UNIQUE (email), 
	CONSTRAINT ck_age CHECK (age>=0)
);
INSERT INTO _alembic_tmp_users (id, email, age) SELECT users.id, users.email, users.age FROM users;
DROP TABLE users;
ALTER TABLE _alembic_tmp_users RENAME TO users;
CREATE INDEX ix_users_age ON users (age);
"""


class Db(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()
        self.path = os.path.join(self.dir.name, "t.db")

    def tearDown(self):
        self.dir.cleanup()

    def run_sql(self, sql):
        con = sqlite3.connect(self.path)
        con.executescript(sql)
        con.close()


class Snapshot(Db):
    def test_a_batch_rebuild_with_the_same_shape_reads_the_same(self):
        self.run_sql(USERS + ";\nCREATE INDEX ix_users_age ON users (age);")
        before = snapshot(self.path)
        self.run_sql(BATCH)
        self.assertEqual(snapshot(self.path), before)

    def test_constraints_columns_and_indexes(self):
        self.run_sql(USERS + ";\nCREATE TABLE notes (id INTEGER PRIMARY KEY, user_id INTEGER REFERENCES users (id) ON DELETE CASCADE, body TEXT);"
                     "\nCREATE UNIQUE INDEX ix_notes_body ON notes (lower(body)) WHERE body IS NOT NULL;")
        snap = snapshot(self.path)
        self.assertEqual(
            [(c["table"], c["name"], c["definition"]) for c in snap["constraints"]],
            [
                ("notes", "notes_pkey", "PRIMARY KEY (id)"),
                ("notes", "notes_user_id_fkey", "FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE"),
                ("users", "pk_users", "PRIMARY KEY (id)"),
                ("users", "uq_users_email", "UNIQUE (email)"),
                ("users", "ck_age", "CHECK (age >= 0)"),
            ],
        )
        self.assertEqual(snap["indexes"], [{"schema": "main", "table": "notes", "name": "ix_notes_body", "definition": "(lower(body))", "unique": True, "predicate": "body IS NOT NULL", "comment": None}])
        age = next(c for c in snap["columns"] if c["name"] == "age")
        self.assertEqual((age["type"], age["notNull"], age["default"]), ("INTEGER", False, "0"))
        # INTEGER PRIMARY KEY is the rowid: never NULL, whatever the declaration says.
        self.assertTrue(next(c for c in snap["columns"] if c["table"] == "notes" and c["name"] == "id")["notNull"])

    def test_a_forgotten_index_and_a_kept_not_null_differ(self):
        self.run_sql(USERS)
        before = snapshot(self.path)
        self.run_sql("CREATE INDEX ix_users_age ON users (age);")
        self.assertEqual([i["name"] for i in snapshot(self.path)["indexes"]], ["ix_users_age"])
        self.run_sql(BATCH.replace("age INTEGER DEFAULT (0)", "age INTEGER NOT NULL DEFAULT (0)").replace("CREATE INDEX ix_users_age ON users (age);", ""))
        after = snapshot(self.path)
        self.assertEqual([c["notNull"] for c in after["columns"] if c["name"] == "age"], [True])
        self.assertNotEqual(after, before)

    def test_the_version_table_and_sqlite_internals_are_left_out(self):
        self.run_sql("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL); CREATE TABLE t (id INTEGER PRIMARY KEY AUTOINCREMENT);"
                     "INSERT INTO alembic_version VALUES ('abc');")
        self.assertEqual([t["name"] for t in snapshot(self.path)["tables"]], ["t"])
        self.assertEqual(versions(self.path, "alembic_version"), ["abc"])
        self.assertIsNone(versions(self.path, "schema_migrations"))

    def test_a_missing_file_is_an_error_and_is_not_created(self):
        with self.assertRaises(sqlite3.OperationalError):
            snapshot(self.path)
        self.assertFalse(os.path.exists(self.path))


class Parsing(unittest.TestCase):
    def test_spacing_never_matters(self):
        self.assertEqual(_spaced(_tokens("lower( email )  >=  'a,b'")), "lower(email) >= 'a,b'")
        self.assertEqual(_spaced(_tokens("x IN (1,2 , 3)")), "x IN(1, 2, 3)")

    def test_defaults_lose_the_parentheses_batch_mode_adds(self):
        self.assertEqual(_default("((CURRENT_TIMESTAMP))"), "CURRENT_TIMESTAMP")
        self.assertEqual(_default("'x'"), "'x'")
        self.assertEqual(_default("(1) + (2)"), "(1) + (2)")
        self.assertIsNone(_default(None))

    def test_checks_and_constraint_names(self):
        checks, names = _parse_table(
            'CREATE TABLE "t" (a INTEGER CONSTRAINT ck_a CHECK (a > 0) REFERENCES p (id), b TEXT UNIQUE, '
            'CONSTRAINT fk_b FOREIGN KEY (b) REFERENCES q (x), CHECK (length(b) < 10), CONSTRAINT pk PRIMARY KEY (a))'
        )
        self.assertEqual(checks, [{"name": "ck_a", "expr": "a > 0", "column": "a"}, {"name": None, "expr": "length(b) < 10", "column": None}])
        self.assertEqual(names, {"primary key": "pk", "unique": {}, "foreign key": {("b",): "fk_b"}})


class Guard(Db):
    def setUp(self):
        super().setUp()
        self.twin = os.path.join(self.dir.name, "twin.db")
        self.saved = dict(ROUTE)
        ROUTE.update(engine="sqlite", twin={"host": "", "port": "0", "user": "", "database": self.twin}, mode="redirect", claimed=None, noticed=set(), notices=[], files={os.path.realpath(self.twin)})
        sqlite_guard.install()

    def tearDown(self):
        ROUTE.clear()
        ROUTE.update(self.saved)
        STATE["foreign"] = None
        super().tearDown()

    def test_another_file_lands_on_the_twin_and_is_never_created(self):
        con = sqlite3.connect(self.path)
        con.execute("CREATE TABLE x (id INTEGER)")
        con.close()
        self.assertFalse(os.path.exists(self.path))
        self.assertTrue(os.path.exists(self.twin))
        self.assertEqual(len(ROUTE["notices"]), 1)
        self.assertTrue(ROUTE["notices"][0].endswith("opened sqlite:///%s; redirected to its throwaway twin" % os.path.realpath(self.path)))

    def test_a_uri_and_memory_databases(self):
        sqlite3.connect("file:%s?mode=rwc" % self.path, uri=True).close()
        self.assertFalse(os.path.exists(self.path))
        sqlite3.connect(":memory:").close()
        self.assertEqual(ROUTE["claimed"], ("sqlite", os.path.realpath(self.path)))

    def test_a_second_foreign_file_is_refused(self):
        sqlite3.connect(self.path).close()
        with self.assertRaises(GateError) as raised:
            sqlite3.connect(os.path.join(self.dir.name, "other.db"))
        self.assertEqual(raised.exception.kind, "foreign_database")
        self.assertIn("opened sqlite:///%s as well as sqlite:///%s" % (os.path.realpath(os.path.join(self.dir.name, "other.db")), os.path.realpath(self.path)), raised.exception.message)

    def test_refuse_mode(self):
        ROUTE["mode"] = "refuse"
        with self.assertRaises(GateError) as raised:
            sqlite3.connect(self.path)
        self.assertIn("tried to open sqlite:///%s, which is not the gate's throwaway SQLite file" % os.path.realpath(self.path), raised.exception.message)
        self.assertFalse(os.path.exists(self.path))


if __name__ == "__main__":
    unittest.main()
