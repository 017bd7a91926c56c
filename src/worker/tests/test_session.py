"""The URL env.py gets (_with_driver): the project's own driver kept, else an installed one;
and the state every module shares."""

import importlib.util
import sys
import unittest
from unittest import mock

from alembic.config import Config

from alembic_gate_worker import errors, guard, main, observe, project, session, state, steps
from alembic_gate_worker.session import _with_driver
from alembic_gate_worker.state import STATE

TWIN_URL = "postgresql://gate:pw@127.0.0.1:55432/ag_twin_1"
DRIVERS = ("psycopg2", "psycopg", "asyncpg", "pg8000")  # _with_driver's order of preference


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

    def test_keeps_the_projects_explicit_driver(self):
        self.own("postgresql+asyncpg://app:secret@prod.example/app")
        self.assertEqual(_with_driver(TWIN_URL), "postgresql+asyncpg://gate:pw@127.0.0.1:55432/ag_twin_1")
        self.own("postgresql+psycopg://app@prod.example/app")
        self.assertEqual(_with_driver(TWIN_URL), "postgresql+psycopg://gate:pw@127.0.0.1:55432/ag_twin_1")
        self.own("postgres+pg8000://app@prod.example/app")
        self.assertEqual(_with_driver(TWIN_URL), "postgresql+pg8000://gate:pw@127.0.0.1:55432/ag_twin_1")

    def test_keeps_a_sections_driver(self):
        self.own("postgresql+psycopg2://app@prod.example/main")
        self.own("postgresql+asyncpg://app@prod.example/engine2", section="engine2")
        self.assertEqual(_with_driver(TWIN_URL, "engine2"), "postgresql+asyncpg://gate:pw@127.0.0.1:55432/ag_twin_1")
        self.assertEqual(_with_driver(TWIN_URL), "postgresql+psycopg2://gate:pw@127.0.0.1:55432/ag_twin_1")

    def test_picks_the_first_installed_driver_otherwise(self):
        available = [d for d in DRIVERS if installed(d)]
        self.assertTrue(available, "no PostgreSQL driver importable: the stacks have psycopg2")
        self.assertEqual(available[0], "psycopg2")  # both stacks keep bookworm's psycopg2
        for own in (None, "postgresql://app@prod.example/app", "${DATABASE_URL}", "driver://user:pass@localhost/dbname"):
            with self.subTest(own=own):
                if own is not None:
                    self.own(own)
                self.assertEqual(_with_driver(TWIN_URL), "postgresql+psycopg2://gate:pw@127.0.0.1:55432/ag_twin_1")

    def test_skips_a_driver_that_does_not_import(self):
        self.own("postgresql://app@prod.example/app")
        rest = [d for d in DRIVERS[1:] if installed(d)]
        with mock.patch.dict(sys.modules, {"psycopg2": None}):  # None in sys.modules: ImportError
            got = _with_driver(TWIN_URL)
        if rest:
            self.assertEqual(got, "postgresql+%s://gate:pw@127.0.0.1:55432/ag_twin_1" % rest[0])
        else:
            self.assertEqual(got, TWIN_URL)
        with mock.patch.dict(sys.modules, {d: None for d in DRIVERS}):
            self.assertEqual(_with_driver(TWIN_URL), TWIN_URL)

    def test_leaves_a_url_with_a_driver_or_another_scheme_alone(self):
        self.own("postgresql+asyncpg://app@prod.example/app")
        for url in ("postgresql+psycopg2://gate@127.0.0.1/db", "sqlite:///x.db", "postgres://gate@127.0.0.1/db"):
            with self.subTest(url=url):
                self.assertEqual(_with_driver(url), url)

    def test_without_a_config(self):
        STATE["config"] = None
        self.assertEqual(_with_driver(TWIN_URL), "postgresql+psycopg2://gate:pw@127.0.0.1:55432/ag_twin_1")


class SharedState(unittest.TestCase):
    def test_every_module_has_the_same_dicts(self):
        for module in (errors, guard, main, observe, project, session, steps):
            with self.subTest(module=module.__name__):
                if hasattr(module, "STATE"):
                    self.assertIs(module.STATE, state.STATE)
                if hasattr(module, "ROUTE"):
                    self.assertIs(module.ROUTE, state.ROUTE)
                if hasattr(module, "_REUSE"):
                    self.assertIs(module._REUSE, state._REUSE)
        self.assertIs(guard.ROUTE, session.ROUTE)
        self.assertIs(guard._REUSE, session._REUSE)


if __name__ == "__main__":
    unittest.main()
