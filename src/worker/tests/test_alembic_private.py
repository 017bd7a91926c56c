"""Every private Alembic name alembic_private.py uses resolves on the installed Alembic, and each
fallback gives what the private API gives."""

import os
import tempfile
import textwrap
import unittest
from types import SimpleNamespace
from unittest import mock

import alembic
from alembic.config import Config
from alembic.script import ScriptDirectory
from alembic.script.base import Script

from alembic_gate_worker import alembic_private

ALEMBIC = tuple(int(p) for p in alembic.__version__.split(".")[:2])

REVISION = textwrap.dedent(
    '''\
    revision = {rev!r}
    down_revision = {down!r}
    branch_labels = None
    depends_on = None


    def upgrade():
        pass


    def downgrade():
        pass
    '''
)


def steps(found):
    """What a list of migration steps does: (kind, from, to, upgrade?)."""
    out = []
    for s in found:
        if type(s).__name__ == "StampStep":
            out.append(("stamp", s.from_, s.to_, s.is_upgrade, s.branch_move))
        else:
            out.append((type(s).__name__, s.revision.revision, s.is_upgrade))
    return out


class ScriptDirectoryCase(unittest.TestCase):
    """a <- b <- c, and d on a branch of its own from a."""

    def setUp(self):
        tmp = tempfile.TemporaryDirectory()
        self.addCleanup(tmp.cleanup)
        self.dir = tmp.name
        versions = os.path.join(self.dir, "versions")
        os.mkdir(versions)
        for rev, down in (("a", None), ("b", "a"), ("c", "b"), ("d", "a")):
            with open(os.path.join(versions, "%s_rev.py" % rev), "w") as f:
                f.write(REVISION.format(rev=rev, down=down))
        self.script = ScriptDirectory(self.dir)


class StepsOfARun(ScriptDirectoryCase):
    def test_the_private_names_exist(self):
        for name in ("_upgrade_revs", "_downgrade_revs", "_stamp_revs"):
            with self.subTest(name=name):
                self.assertTrue(callable(getattr(ScriptDirectory, name, None)), "Alembic %s has no ScriptDirectory.%s" % (alembic.__version__, name))

    def test_upgrade(self):
        expected = [("RevisionStep", "a", True), ("RevisionStep", "b", True), ("RevisionStep", "c", True)]
        self.assertEqual(steps(alembic_private.upgrade_revs(self.script, "c", ())), expected)
        self.assertEqual(steps(alembic_private.upgrade_revs_fallback(self.script, "c", ())), expected)
        self.assertEqual(steps(alembic_private.upgrade_revs(self.script, "heads", ("c",))), [("RevisionStep", "d", True)])
        self.assertEqual(steps(alembic_private.upgrade_revs_fallback(self.script, "heads", ("c",))), [("RevisionStep", "d", True)])

    def test_downgrade(self):
        expected = [("RevisionStep", "c", False), ("RevisionStep", "b", False)]
        self.assertEqual(steps(alembic_private.downgrade_revs(self.script, "a", ("c",))), expected)
        self.assertEqual(steps(alembic_private.downgrade_revs_fallback(self.script, "a", ("c",))), expected)
        everything = [("RevisionStep", r, False) for r in ("d", "c", "b", "a")]
        self.assertEqual(sorted(steps(alembic_private.downgrade_revs(self.script, "base", ("c", "d")))), sorted(everything))
        self.assertEqual(
            steps(alembic_private.downgrade_revs_fallback(self.script, "base", ("c", "d"))),
            steps(alembic_private.downgrade_revs(self.script, "base", ("c", "d"))),
        )

    def test_stamp_heads_on_an_empty_version_table(self):
        got = steps(alembic_private.stamp_revs(self.script, "heads", ()))
        self.assertEqual(sorted(got), [("stamp", (), ("c",), True, True), ("stamp", (), ("d",), True, True)])
        self.assertEqual(sorted(steps(alembic_private.stamp_revs_fallback(self.script, "heads", ()))), sorted(got))
        with self.assertRaises(NotImplementedError):
            alembic_private.stamp_revs_fallback(self.script, "heads", ("a",))

    def test_without_the_private_names_the_fallbacks_run(self):
        with mock.patch.object(ScriptDirectory, "_upgrade_revs", None), mock.patch.object(ScriptDirectory, "_downgrade_revs", None), mock.patch.object(
            ScriptDirectory, "_stamp_revs", None
        ):
            self.assertEqual(steps(alembic_private.upgrade_revs(self.script, "b", ())), [("RevisionStep", "a", True), ("RevisionStep", "b", True)])
            self.assertEqual(steps(alembic_private.downgrade_revs(self.script, "a", ("b",))), [("RevisionStep", "b", False)])
            self.assertEqual(steps(alembic_private.stamp_revs(self.script, "c", ())), [("stamp", (), ("c",), True, True)])


class VersionLocations(ScriptDirectoryCase):
    def test_default_versions_directory(self):
        self.assertIsNotNone(getattr(ScriptDirectory, "_version_locations", None))
        expected = [os.path.join(os.path.abspath(self.dir), "versions")]
        self.assertEqual([str(p) for p in alembic_private.version_locations(self.script)], expected)
        self.assertEqual(alembic_private.version_locations_fallback(self.script), expected)

    def test_configured_locations(self):
        other = os.path.join(self.dir, "more")
        os.mkdir(other)
        script = ScriptDirectory(self.dir, version_locations=[os.path.join(self.dir, "versions"), other])
        expected = [os.path.join(os.path.abspath(self.dir), "versions"), os.path.abspath(other)]
        self.assertEqual([str(p) for p in alembic_private.version_locations(script)], expected)
        self.assertEqual(alembic_private.version_locations_fallback(script), expected)
        with mock.patch.object(ScriptDirectory, "_version_locations", None):
            self.assertEqual(alembic_private.version_locations(script), expected)


class ScriptLoaders(ScriptDirectoryCase):
    def test_the_loaders_of_this_alembic(self):
        names = [name for name, _ in alembic_private.script_loaders(Script)]
        # 1.8: _from_filename, which _from_path calls; 1.18: _from_path alone.
        self.assertIn(names, (["_from_filename", "_from_path"], ["_from_path"]))
        if ALEMBIC <= (1, 8):
            self.assertEqual(names, ["_from_filename", "_from_path"])
        if ALEMBIC >= (1, 18):
            self.assertEqual(names, ["_from_path"])

    def test_a_replaced_loader_sees_every_revision_file(self):
        originals = {name: Script.__dict__[name] for name in alembic_private.SCRIPT_LOADERS if name in Script.__dict__}
        self.addCleanup(lambda: [setattr(Script, n, f) for n, f in originals.items()])
        seen = []

        def wrap(name, func):
            def loader(cls, scriptdir, *args):
                sc = func(cls, scriptdir, *args)
                seen.append((name, os.path.join(*[str(a) for a in args]), sc.revision if sc is not None else None))
                return sc

            alembic_private.replace_script_loader(Script, name, loader)

        for name, func in alembic_private.script_loaders(Script):
            wrap(name, func)
        heads = self.script.revision_map.heads
        self.assertEqual(sorted(heads), ["c", "d"])
        files = {os.path.basename(path): rev for _, path, rev in seen if rev is not None}
        self.assertEqual(files, {"a_rev.py": "a", "b_rev.py": "b", "c_rev.py": "c", "d_rev.py": "d"})


class AutogenContext(ScriptDirectoryCase):
    def test_the_context_run_autogenerate_compared_against(self):
        import sqlalchemy as sa
        from alembic.autogenerate import RevisionContext
        from alembic.runtime.migration import MigrationContext

        empty = tempfile.TemporaryDirectory()
        self.addCleanup(empty.cleanup)
        os.mkdir(os.path.join(empty.name, "versions"))
        script = ScriptDirectory(empty.name)
        command_args = dict(message="m", autogenerate=True, sql=False, head="head", splice=False, branch_label=None, version_path=None, rev_id="x", depends_on=None)
        revision_context = RevisionContext(Config(), script, command_args)
        metadata = sa.MetaData()
        sa.Table("t", metadata, sa.Column("id", sa.Integer, primary_key=True))
        engine = sa.create_engine("sqlite://")
        self.addCleanup(engine.dispose)
        with engine.connect() as conn:
            context = MigrationContext.configure(connection=conn, opts={"target_metadata": metadata, "upgrade_token": "upgrades", "downgrade_token": "downgrades", "process_revision_directives": None})
            revision_context.run_autogenerate((), context)
            self.assertIs(alembic_private.autogen_migration_context(revision_context, None), context)
            ops = revision_context.generated_revisions[-1].upgrade_ops.ops
            self.assertEqual([type(op).__name__ for op in ops], ["CreateTableOp"])

    def test_fallback(self):
        marker = object()
        self.assertIs(alembic_private.autogen_migration_context(SimpleNamespace(), marker), marker)
        self.assertIs(alembic_private.autogen_migration_context(SimpleNamespace(_last_autogen_context=SimpleNamespace(migration_context="ctx")), marker), "ctx")
        self.assertIsNone(alembic_private.autogen_migration_context(SimpleNamespace(_last_autogen_context=SimpleNamespace()), marker))


class ConfigReadsToml(unittest.TestCase):
    def test_matches_the_version(self):
        self.assertEqual(alembic_private.config_reads_toml(Config), ALEMBIC >= (1, 16))


if __name__ == "__main__":
    unittest.main()
