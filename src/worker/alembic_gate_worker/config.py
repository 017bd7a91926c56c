"""The Config `alembic` (or `flask db`) would build for the project, its options, and the ini
sections of a multidb project."""

import argparse
import os
import sys

from . import alembic_private
from .errors import GateError, _relative
from .state import STATE


# --- loading the project -----------------------------------------------------------------------
def _alembic_option(cfg, name):
    """An [alembic] option, or on Alembic 1.16+ one from pyproject.toml's [tool.alembic]."""
    getter = getattr(cfg, "get_alembic_option", None)
    return getter(name) if getter is not None else cfg.get_main_option(name)


def _new_config(req):
    """The Config `alembic` (or `flask db`) would build for this project."""
    from alembic.config import Config

    shape = req.get("shape") or "ini"
    ini = req.get("ini") if "ini" in req else os.path.abspath(req["config"])
    toml = req.get("toml")
    shown = _relative(req["config"])
    if ini and not os.path.isfile(ini):
        raise GateError("config", "no Alembic config at %s" % _relative(ini), file=ini)
    if toml:
        import alembic

        if not alembic_private.config_reads_toml(Config):
            raise GateError(
                "config",
                "%s configures Alembic in [tool.alembic], which needs Alembic 1.16 or later; "
                "%s has Alembic %s. Upgrade Alembic in the project's environment (or pass --python "
                "with one that has it), or move the settings to alembic.ini."
                % (shown, sys.executable, alembic.__version__),
                file=toml,
            )
        cfg = Config(file_=ini, toml_file=toml)
    else:
        cfg = Config(ini)
    try:
        if shape == "flask":
            # As Flask-Migrate's Migrate.get_config: the scripts are the ini's own directory.
            cfg.set_main_option("script_location", os.path.dirname(ini).replace("%", "%%"))
            cfg.cmd_opts = argparse.Namespace(x=[])
        elif not _alembic_option(cfg, "script_location"):
            where = "its [tool.alembic] table" if toml else "its [alembic] section"
            raise GateError("config", "%s has no script_location in %s" % (shown, where), file=req["config"])
    except GateError:
        raise
    except Exception as exc:  # a malformed ini or toml
        raise GateError("config", "cannot read %s: %s" % (shown, exc), file=req["config"])
    return cfg


def _section_of(token):
    """multidb: the ini section a context was configured for: env.py gives each its
    upgrade_token "<section>_upgrades" (and downgrade_token "<section>_downgrades")."""
    sections = STATE.get("sections") or []
    token = token or ""
    for suffix in ("_upgrades", "_downgrades"):
        if token.endswith(suffix) and token[: -len(suffix)] in sections:
            return token[: -len(suffix)]
    return None


def _multidb_sections(cfg):
    """The ini sections of an `alembic init -t multidb` project: the main option `databases`
    names them, each with its own sqlalchemy.url. None for a project of one database."""
    import re

    try:
        names = cfg.get_main_option("databases")
    except Exception:
        return None
    if not names:
        return None
    sections = [n for n in re.split(r",\s*", names.strip()) if n]
    try:
        for name in sections:
            if not (cfg.get_section(name) or {}).get("sqlalchemy.url"):
                return None
    except Exception:
        return None
    return sections
