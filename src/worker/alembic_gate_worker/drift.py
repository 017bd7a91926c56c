"""Drift: the models against the migrated schema (autogenerate's comparison)."""

import time
import traceback

from . import alembic_private
from .config import _section_of
from .errors import GateError, _error_payload
from .project import _flask_context, _release_flask_connections
from .steps import _require_script
from .state import STATE


# --- drift: the models against the migrated schema ----------------------------------------------
def _qual(schema, name):
    return "%s.%s" % (schema, name) if schema else str(name)


def _type_str(t, dialect):
    try:
        return t.compile(dialect=dialect)
    except Exception:
        return repr(t)


def _describe(diff, dialect):
    kind = diff[0]
    try:
        if kind == "add_table":
            t = diff[1]
            return {"kind": kind, "table": _qual(t.schema, t.name), "message": "model has table %s; the migrated schema does not" % _qual(t.schema, t.name)}
        if kind == "remove_table":
            t = diff[1]
            return {"kind": kind, "table": _qual(t.schema, t.name), "message": "the migrated schema has table %s; the models do not" % _qual(t.schema, t.name)}
        if kind in ("add_column", "remove_column"):
            schema, tname, col = diff[1], diff[2], diff[3]
            table = _qual(schema, tname)
            what = "column %s.%s (%s)" % (table, col.name, _type_str(col.type, dialect))
            if kind == "add_column":
                msg = "model has %s; the migrated schema does not" % what
            else:
                msg = "the migrated schema has %s; the models do not" % what
            return {"kind": kind, "table": table, "column": col.name, "message": msg}
        if kind in ("add_index", "remove_index"):
            idx = diff[1]
            table = _qual(idx.table.schema, idx.table.name) if idx.table is not None else "?"
            cols = ", ".join(getattr(c, "name", str(c)) for c in idx.expressions)
            uniq = "unique " if idx.unique else ""
            if kind == "add_index":
                msg = "model has %sindex %s on %s (%s); the migrated schema does not" % (uniq, idx.name, table, cols)
            else:
                msg = "the migrated schema has %sindex %s on %s (%s); the models do not" % (uniq, idx.name, table, cols)
            return {"kind": kind, "table": table, "name": idx.name, "message": msg}
        if kind in ("add_constraint", "remove_constraint", "add_fk", "remove_fk"):
            const = diff[1]
            table_obj = getattr(const, "table", None)
            table = _qual(table_obj.schema, table_obj.name) if table_obj is not None else "?"
            label = {
                "UniqueConstraint": "unique constraint",
                "ForeignKeyConstraint": "foreign key",
                "CheckConstraint": "check constraint",
                "PrimaryKeyConstraint": "primary key",
            }.get(type(const).__name__, "constraint")
            name = const.name or "(unnamed)"
            cols = ", ".join(c.name for c in getattr(const, "columns", []))
            if kind.startswith("add"):
                msg = "model has %s %s on %s (%s); the migrated schema does not" % (label, name, table, cols)
            else:
                msg = "the migrated schema has %s %s on %s (%s); the models do not" % (label, name, table, cols)
            return {"kind": kind, "table": table, "name": const.name, "message": msg}
        if kind.startswith("modify_"):
            schema, tname, cname, existing, old, new = diff[1], diff[2], diff[3], diff[4], diff[5], diff[6]
            table = _qual(schema, tname)
            col = "column %s.%s" % (table, cname)
            if kind == "modify_type":
                msg = "%s is %s in the migrated schema, %s in the model" % (col, _type_str(old, dialect), _type_str(new, dialect))
            elif kind == "modify_nullable":
                fmt = lambda v: "nullable" if v else "NOT NULL"  # noqa: E731
                msg = "%s is %s in the migrated schema, %s in the model" % (col, fmt(old), fmt(new))
            elif kind == "modify_default":
                def fmt(v):
                    if v is None:
                        return "no server default"
                    arg = getattr(v, "arg", v)
                    return "server default %s" % (getattr(arg, "text", None) or str(arg))
                msg = "%s has %s in the migrated schema, %s in the model" % (col, fmt(old), fmt(new))
            elif kind == "modify_comment":
                msg = "%s has comment %r in the migrated schema, %r in the model" % (col, old, new)
            else:
                msg = "%s differs (%s): %r in the migrated schema, %r in the model" % (col, kind, old, new)
            return {"kind": kind, "table": table, "column": cname, "message": msg}
        if kind in ("add_table_comment", "remove_table_comment"):
            t = diff[1]
            return {"kind": kind, "table": _qual(t.schema, t.name), "message": "table %s comment differs between the model and the migrated schema" % _qual(t.schema, t.name)}
    except Exception:
        pass
    return {"kind": str(kind), "message": "model and migrated schema differ: %s" % (diff,)}


def _flatten(op):
    # ModifyTableOps groups the changes to one table and has no diff tuple of its own.
    if hasattr(op, "ops"):
        return [d for sub in op.ops for d in _flatten(sub)]
    diff = op.to_diff_tuple()
    if isinstance(diff, list):
        out = []
        for d in diff:
            out.extend(d if isinstance(d, list) else [d])
        return out
    return [diff]


def _ops_of(script_op):
    lst = getattr(script_op, "upgrade_ops_list", None)
    if lst is None:
        lst = [script_op.upgrade_ops]
    downs = getattr(script_op, "downgrade_ops_list", None)
    if downs is None:
        downs = [script_op.downgrade_ops]
    return lst, downs


_RENDER_OPTS = ("user_module_prefix", "render_item", "render_as_batch", "alembic_module_prefix", "sqlalchemy_module_prefix")


def _summarize(generated, migration_context):
    from alembic.autogenerate import render_python_code
    from alembic.runtime.migration import MigrationContext

    dialect = migration_context.dialect if migration_context is not None else None
    opts = migration_context.opts if migration_context is not None else {}
    # Render through a fresh context that carries env.py's rendering options but no script:
    # the live one would insist on target_metadata in the render options.
    render_context = MigrationContext.configure(
        dialect=dialect, opts={k: opts[k] for k in _RENDER_OPTS if opts.get(k) is not None}
    ) if dialect is not None else None
    operations = []
    ups, downs = [], []
    for script_op in generated:
        up_list, down_list = _ops_of(script_op)
        for up in up_list:
            if up is None or up.is_empty():
                continue
            section = _section_of(up.upgrade_token)
            for op in up.ops:
                for diff in _flatten(op):
                    described = _describe(diff, dialect)
                    if section:
                        described["message"] = "%s: %s" % (section, described["message"])
                    operations.append(described)
            ups.append(up)
        downs.extend(d for d in down_list if d is not None and not d.is_empty())

    def render(op_list):
        if not op_list:
            return None
        chunks = []
        for ops_obj in op_list:
            code = render_python_code(
                ops_obj,
                render_as_batch=bool(opts.get("render_as_batch")),
                render_item=opts.get("render_item"),
                migration_context=render_context,
            )
            section = _section_of(getattr(ops_obj, "upgrade_token", None) or getattr(ops_obj, "downgrade_token", None))
            if section:
                # multidb: each database's operations are the body of its own function in the
                # revision (the template's upgrade_<section>()), rendered as that function.
                code = "def %s_%s() -> None:\n    %s\n" % ("upgrade" if any(ops_obj is u for u in ups) else "downgrade", section, code)
            chunks.append(code)
        return "\n".join(chunks)

    return operations, render(ups), render(downs)


def cmd_drift(req):
    from alembic.autogenerate import RevisionContext
    from alembic.runtime.environment import EnvironmentContext

    script = _require_script()
    cfg = STATE["config"]
    _flask_context()
    command_args = dict(
        message="alembic-gate drift check",
        autogenerate=True,
        sql=False,
        head="head",
        splice=False,
        branch_label=None,
        version_path=None,
        rev_id="alembic_gate_drift",
        depends_on=None,
    )
    raw = {}

    def before_user_hook(context, revision, directives):
        # Runs before env.py's own process_revision_directives: keep what autogenerate found,
        # so a hook that empties the directives cannot hide drift.
        raw["summary"] = _summarize(directives, context)

    revision_context = RevisionContext(
        cfg, script, command_args, process_revision_directives=before_user_hook
    )
    seen = {"ran": False, "target_metadata": True, "context": None}

    def retrieve(rev, context):
        seen["ran"] = True
        if context.opts.get("target_metadata") is None:
            seen["target_metadata"] = False
            return []
        seen["context"] = context  # what autogenerate compares against (see alembic_private)
        revision_context.run_autogenerate(rev, context)
        return []

    started = time.perf_counter()
    with EnvironmentContext(
        cfg,
        script,
        fn=retrieve,
        as_sql=False,
        template_args=revision_context.template_args,
        revision_context=revision_context,
    ):
        try:
            script.run_env()
        except Exception as exc:
            tb = traceback.extract_tb(exc.__traceback__)
            if any(fr.name == "process_revision_directives" for fr in tb):
                payload = _error_payload(exc)
                raise GateError(
                    "hook",
                    "env.py's process_revision_directives raised: %s" % payload["message"],
                    file=payload.get("file"),
                    line=payload.get("line"),
                    detail=payload.get("detail"),
                )
            raise
        finally:
            _release_flask_connections()
    ms = round((time.perf_counter() - started) * 1000, 2)
    if not seen["target_metadata"]:
        return {"skipped": "env.py sets no target_metadata, so there are no models to compare", "ms": ms}
    if not seen["ran"]:
        return {"skipped": "env.py did not run migrations in online mode", "ms": ms}
    mctx = alembic_private.autogen_migration_context(revision_context, seen["context"])
    operations, up, down = _summarize(revision_context.generated_revisions, mctx)
    notes = []
    raw_ops = raw.get("summary", ([], None, None))
    if not operations and raw_ops[0]:
        notes.append(
            "env.py's process_revision_directives removed what autogenerate found; "
            "the drift below is the comparison before that hook"
        )
        operations, up, down = raw_ops
    return {"operations": operations, "upgrade": up, "downgrade": down, "notes": notes, "ms": ms}
