"""The code hashes of the history check: what a revision's upgrade() and downgrade() mean."""

import ast
import hashlib
import os
import tempfile
import textwrap
import unittest

from alembic_gate_worker.history import _code_hashes, _function_code

REVISION = '''\
"""add c

Revision ID: a1
"""
from alembic import op
import sqlalchemy as sa
import os  # unused

revision = "a1"
down_revision = None

TABLE = "t"


def _col():
    return sa.Column("c", sa.Integer())


def upgrade():
    """Adds c."""
    op.add_column(TABLE, _col())
    op.execute("""UPDATE   t
        SET c = 1""")


def downgrade():
    op.drop_column(TABLE, "c")
'''

UPGRADE_CODE = (
    "from alembic import op\n"
    "import sqlalchemy as sa\n"
    "TABLE = 't'\n"
    "\n"
    "def _col():\n"
    "    return sa.Column('c', sa.Integer())\n"
    "\n"
    "def upgrade():\n"
    "    op.add_column(TABLE, _col())\n"
    "    op.execute('UPDATE t SET c = 1')"
)
DOWNGRADE_CODE = "from alembic import op\nTABLE = 't'\n\ndef downgrade():\n    op.drop_column(TABLE, 'c')"


class CodeHashes(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.addCleanup(self.tmp.cleanup)
        self.count = 0

    def hashes(self, source):
        self.count += 1
        path = os.path.join(self.tmp.name, "rev%d.py" % self.count)
        with open(path, "w", encoding="utf-8") as f:
            f.write(source)
        return _code_hashes(path)

    def edited(self, old, new):
        self.assertIn(old, REVISION)
        return self.hashes(REVISION.replace(old, new, 1))

    def test_canonical_code_and_hash(self):
        got = self.hashes(REVISION)
        self.assertEqual(set(got), {"upgrade", "downgrade"})
        self.assertEqual(got["upgrade"][1], UPGRADE_CODE)
        self.assertEqual(got["downgrade"][1], DOWNGRADE_CODE)
        self.assertEqual(got["upgrade"][0], hashlib.sha256(UPGRADE_CODE.encode("utf-8")).hexdigest()[:16])
        self.assertEqual(got["downgrade"][0], hashlib.sha256(DOWNGRADE_CODE.encode("utf-8")).hexdigest()[:16])
        self.assertEqual(len(got["upgrade"][0]), 16)

    def test_docstring_edits_hash_equal(self):
        base = self.hashes(REVISION)
        self.assertEqual(self.edited('"""Adds c."""', '"""Adds the column c, which the report needs."""'), base)
        self.assertEqual(self.edited('"""add c\n', '"""add column c to t\n'), base)
        # A docstring added where there was none.
        self.assertEqual(self.edited("def downgrade():\n", 'def downgrade():\n    """Drops c."""\n'), base)

    def test_comment_and_formatting_edits_hash_equal(self):
        base = self.hashes(REVISION)
        self.assertEqual(self.edited("    op.add_column(TABLE, _col())\n", "    # the new column\n    op.add_column(TABLE, _col())  # see #12\n"), base)
        self.assertEqual(self.edited('op.drop_column(TABLE, "c")', "op.drop_column(\n        TABLE,\n        'c',\n    )"), base)
        # Whitespace inside SQL strings, import order, unused imports, the revision identifiers.
        self.assertEqual(self.edited('"""UPDATE   t\n        SET c = 1"""', '"UPDATE t SET c = 1"'), base)
        self.assertEqual(self.edited("from alembic import op\nimport sqlalchemy as sa\nimport os  # unused\n", "import sqlalchemy as sa\nfrom alembic import op\n"), base)
        self.assertEqual(self.edited('revision = "a1"', 'revision = "b2"'), base)

    def test_body_edit_of_upgrade_changes_only_upgrade(self):
        base = self.hashes(REVISION)
        got = self.edited("SET c = 1", "SET c = 2")
        self.assertNotEqual(got["upgrade"][0], base["upgrade"][0])
        self.assertEqual(got["downgrade"], base["downgrade"])

    def test_body_edit_of_downgrade_changes_only_downgrade(self):
        base = self.hashes(REVISION)
        got = self.edited('op.drop_column(TABLE, "c")', 'op.drop_column(TABLE, "c", schema="s")')
        self.assertNotEqual(got["downgrade"][0], base["downgrade"][0])
        self.assertEqual(got["upgrade"], base["upgrade"])

    def test_edit_of_a_helper_or_constant_counts_for_the_functions_using_it(self):
        base = self.hashes(REVISION)
        helper = self.edited("sa.Integer()", "sa.BigInteger()")
        self.assertNotEqual(helper["upgrade"][0], base["upgrade"][0])
        self.assertEqual(helper["downgrade"], base["downgrade"])
        constant = self.edited('TABLE = "t"', 'TABLE = "u"')
        self.assertNotEqual(constant["upgrade"][0], base["upgrade"][0])
        self.assertNotEqual(constant["downgrade"][0], base["downgrade"][0])

    def test_missing_function_and_unparsable_file(self):
        got = self.hashes(REVISION[: REVISION.index("def downgrade")])
        self.assertEqual(set(got), {"upgrade"})
        self.assertEqual(self.hashes("def upgrade(:\n"), {})
        self.assertEqual(_code_hashes(os.path.join(self.tmp.name, "missing.py")), {})

    def test_plpython_bodies_keep_their_whitespace(self):
        source = textwrap.dedent(
            '''\
            from alembic import op
            def upgrade():
                op.execute("""CREATE FUNCTION f() RETURNS int AS $$
                    return 1
                $$ LANGUAGE plpython3u""")
            '''
        )
        code = _function_code(ast.parse(source), "upgrade")
        self.assertIn("$$\\n        return 1\\n    $$", code)


if __name__ == "__main__":
    unittest.main()
