"""The one module that touches private Alembic APIs (names with a leading underscore, or details
such as a parameter's name). Each use is a small function here; where Alembic's public API can do
the same, a fallback takes over when a release drops or renames the private name, so a new
Alembic degrades to the public way instead of failing every run. Nothing of SQLAlchemy's private
API is used.

On this project's two stacks (Alembic 1.8 and 1.18) every private name below exists, except
Script._from_filename, which 1.18 no longer has; the fallbacks are tested against the private
versions on both (tests/test_alembic_private.py).
"""

import os


# --- the steps of a run: what an EnvironmentContext's `fn` returns ------------------------------
# ScriptDirectory._upgrade_revs / _downgrade_revs / _stamp_revs are what `alembic upgrade`,
# `downgrade` and `stamp` pass as `fn` (the same in 1.8 and 1.18). Their fallbacks build the same
# steps from public parts, without the private versions' rewording of revision errors (a
# RevisionError is raised as it is, not as a CommandError).
def upgrade_revs(script, destination, current_rev):
    """The steps from `current_rev` (the version table's heads) up to `destination`."""
    private = getattr(script, "_upgrade_revs", None)
    if private is None:
        return upgrade_revs_fallback(script, destination, current_rev)
    return private(destination, current_rev)


def upgrade_revs_fallback(script, destination, current_rev):
    from alembic.runtime.migration import MigrationStep

    revs = script.iterate_revisions(destination, current_rev, implicit_base=True)
    return [MigrationStep.upgrade_from_script(script.revision_map, sc) for sc in reversed(list(revs))]


def downgrade_revs(script, destination, current_rev):
    """The steps from `current_rev` down to `destination`."""
    private = getattr(script, "_downgrade_revs", None)
    if private is None:
        return downgrade_revs_fallback(script, destination, current_rev)
    return private(destination, current_rev)


def downgrade_revs_fallback(script, destination, current_rev):
    from alembic.runtime.migration import MigrationStep

    revs = script.iterate_revisions(current_rev, destination, select_for_downgrade=True)
    return [MigrationStep.downgrade_from_script(script.revision_map, sc) for sc in revs]


def stamp_revs(script, revision, heads):
    """The steps that stamp `revision` over the version table's `heads`."""
    private = getattr(script, "_stamp_revs", None)
    if private is None:
        return stamp_revs_fallback(script, revision, heads)
    return private(revision, heads)


def stamp_revs_fallback(script, revision, heads):
    """Only what the gate stamps: revisions onto an empty version table (bootstrap stamps the
    heads of a new database), each a new branch, as _stamp_revs does for it."""
    from alembic.runtime.migration import StampStep

    if heads:
        raise NotImplementedError(
            "this Alembic has no ScriptDirectory._stamp_revs: alembic-gate can stamp only an empty version table"
        )
    return [StampStep((), dest.revision, True, True, script.revision_map) for dest in script.get_revisions(revision) if dest is not None]


# --- where the revision files are ------------------------------------------------------------------
def version_locations(script):
    """The version locations the scripts are read from, absolute (versions/ when none is set).
    Alembic 1.8: strings; 1.18: Paths."""
    if getattr(type(script), "_version_locations", None) is None:
        return version_locations_fallback(script)
    return script._version_locations


def version_locations_fallback(script):
    from alembic import util

    if script.version_locations:
        return [os.path.abspath(str(util.coerce_resource_to_filename(str(location)))) for location in script.version_locations]
    return [os.path.abspath(os.path.join(script.dir, "versions"))]


# --- which file declared which revision ------------------------------------------------------------
# Alembic builds each Script from one revision file in a classmethod: 1.8 has
# _from_filename(scriptdir, dir_, filename), which its _from_path(scriptdir, path) calls; 1.18 has
# _from_path alone. No public API tells which file each revision came from (of two files with
# the same id, Alembic keeps one and drops the other), so there is no fallback: without either,
# nothing is recorded and duplicate ids go unreported.
SCRIPT_LOADERS = ("_from_filename", "_from_path")


def script_loaders(Script):
    """(name, function) of each loader this Alembic's Script has, in SCRIPT_LOADERS's order."""
    found = []
    for name in SCRIPT_LOADERS:
        original = getattr(Script, name, None)
        if original is None:
            continue
        found.append((name, original.__func__))
    return found


def replace_script_loader(Script, name, loader):
    """Puts `loader(cls, scriptdir, *args)` in place of the loader called `name`."""
    setattr(Script, name, classmethod(loader))


# --- autogenerate ------------------------------------------------------------------------------
def autogen_migration_context(revision_context, fallback):
    """The MigrationContext the last run_autogenerate compared against (its dialect and env.py's
    rendering options): RevisionContext._last_autogen_context (1.8, 1.18), else `fallback`, the
    context the caller last passed to run_autogenerate."""
    ctx = getattr(revision_context, "_last_autogen_context", None)
    if ctx is None:
        return fallback
    return getattr(ctx, "migration_context", None)


# --- Config ------------------------------------------------------------------------------------
def config_reads_toml(Config):
    """Whether Config takes a pyproject.toml (toml_file=, Alembic 1.16+)."""
    return "toml_file" in Config.__init__.__code__.co_varnames
