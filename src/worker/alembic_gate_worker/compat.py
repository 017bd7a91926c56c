"""Compat: the deployed code (the base's models) against the schema after the PR."""

import time

from .config import _section_of
from .project import _flask_context
from .steps import _require_script
from .state import STATE


# --- compat: the deployed code (the base's models) against the schema after the PR ------------
def _trial_value(column):
    """A value the deployed code could write into `column` (its model's type), or None."""
    import datetime
    import decimal
    import uuid

    import sqlalchemy as sa

    t = column.type
    enums = getattr(t, "enums", None)
    if enums:
        return enums[0]
    for kind, value in (
        (sa.Boolean, False),
        (sa.Integer, 1),
        (sa.Numeric, decimal.Decimal(1)),
        (sa.Float, 1.0),
        (sa.DateTime, datetime.datetime(2020, 1, 1)),
        (sa.Date, datetime.date(2020, 1, 1)),
        (sa.Time, datetime.time(0, 0)),
        (sa.Interval, datetime.timedelta(0)),
        (sa.LargeBinary, b"x"),
        (sa.JSON, {}),
    ):
        if isinstance(t, kind):
            return value
    if isinstance(t, sa.String):
        return "x"[: t.length] if t.length else "x"
    if type(t).__name__.upper() == "UUID":
        return uuid.UUID(int=1) if getattr(t, "as_uuid", True) else str(uuid.UUID(int=1))
    return None


def _catalog_columns(conn):
    """{(schema, table): {column: {nullable, default, generated}}} of the whole database, in one query."""
    rows = conn.exec_driver_sql(
        "SELECT n.nspname, c.relname, a.attname, NOT a.attnotnull, "
        "(a.atthasdef OR a.attidentity <> '' OR a.attgenerated <> '') "
        "FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE a.attnum > 0 AND NOT a.attisdropped AND c.relkind IN ('r', 'p', 'v', 'm', 'f') "
        "AND n.nspname NOT IN ('pg_catalog', 'information_schema')"
    ).fetchall()
    out = {}
    for schema, table, column, nullable, filled in rows:
        out.setdefault((schema, table), {})[column] = {"nullable": bool(nullable), "filled": bool(filled)}
    return out


def _compat_table(conn, table, catalog, search_path, problems):
    """Every mapped column must exist; a NOT NULL column without a default must be mapped; then
    a SELECT of the mapped columns, an INSERT of a row the way the model builds one and an UPDATE,
    in one savepoint that is rolled back. What fails because of the PR's schema is a problem."""
    import sqlalchemy as sa

    name = table.fullname
    shown = name if not name.startswith("public.") else name[len("public."):]
    columns = None
    for schema in [table.schema] if table.schema else search_path:
        columns = catalog.get((schema, table.name))
        if columns:
            break
    if not columns:
        problems.append({"kind": "missing_table", "table": shown, "column": None, "statement": "select", "message": "table %s does not exist" % shown})
        return
    missing = [c.name for c in table.columns if c.name not in columns]
    for col in missing:
        problems.append({"kind": "missing_column", "table": shown, "column": col, "statement": "select", "message": "column %s.%s does not exist" % (shown, col)})
    if missing:
        return  # every statement of the deployed code on this table fails the same way
    # New NOT NULL columns without a default, which the deployed code does not know to fill.
    mapped = {c.name for c in table.columns}
    for col_name, info in columns.items():
        if col_name in mapped or info["nullable"] or info["filled"]:
            continue
        problems.append({"kind": "unfilled_column", "table": shown, "column": col_name, "statement": "insert", "message": "column %s.%s is NOT NULL without a default, and the deployed code does not set it" % (shown, col_name)})
    values = {}
    for c in table.columns:
        if c.primary_key and c.autoincrement in (True, "auto") and isinstance(c.type, sa.Integer):
            continue
        if c.default is not None or c.server_default is not None or c.nullable:
            continue
        v = _trial_value(c)
        if v is not None:
            values[c.name] = v
    if any(p["table"] == shown for p in problems):
        return
    statements = [("select", sa.select(*table.columns).limit(1)), ("insert", table.insert().values(**values))]
    settable = {c.name: c for c in table.columns if not c.primary_key}
    if settable:
        statements.append(("update", table.update().values(settable)))
    savepoint = conn.begin_nested()
    try:
        for statement, stmt in statements:
            # A statement of its own: an INSERT whose row misses a parent (foreign keys stay on
            # for a role that is no superuser) does not keep the UPDATE from being tried.
            inner = conn.begin_nested()
            try:
                conn.execute(stmt)
            except Exception as exc:
                inner.rollback()
                orig = getattr(exc, "orig", None)
                code = getattr(orig, "pgcode", None) or getattr(orig, "sqlstate", None)
                # Only what the PR's schema causes: a type the deployed code's values no longer
                # fit (datatype mismatch), a relation or column gone. Trial values that meet a
                # CHECK or a unique index say nothing about the deploy.
                if code in ("42P01", "42703", "42804"):
                    problems.append({"kind": "statement", "table": shown, "column": None, "statement": statement, "message": str(orig or exc).strip().splitlines()[0]})
                    break  # the rest of this table fails the same way
    finally:
        savepoint.rollback()


def cmd_compat(req):
    from alembic.runtime.environment import EnvironmentContext

    script = _require_script()
    cfg = STATE["config"]
    _flask_context()
    out = {"ran": False, "metadata": True, "tables": 0, "problems": []}

    def probe(rev, context):
        out["ran"] = True
        metadata = context.opts.get("target_metadata")
        if metadata is None:
            out["metadata"] = False
            return []
        conn = context.connection
        catalog = _catalog_columns(conn)
        search_path = [s.strip().strip('"') for s in conn.exec_driver_sql("SELECT current_schemas(false)::text").scalar().strip("{}").split(",") if s.strip()]
        # Foreign keys are triggers: the trial rows need no parents when the project's code runs
        # as a superuser (--migration-role superuser). Otherwise a row that misses a parent fails
        # on its own, which says nothing about the deploy.
        if conn.exec_driver_sql("SELECT current_setting('is_superuser')").scalar() == "on":
            conn.exec_driver_sql("SET LOCAL session_replication_role = replica")
        # multidb: env.py configures a context per ini section; the tables are named after it.
        section = _section_of(context.opts.get("upgrade_token"))
        for md in metadata if isinstance(metadata, (list, tuple)) else [metadata]:
            for table in md.sorted_tables:
                out["tables"] += 1
                found = []
                _compat_table(conn, table, catalog, search_path, found)
                for p in found:
                    if section:
                        p["table"] = "%s.%s" % (section, p["table"])
                out["problems"].extend(found)
        return []

    started = time.perf_counter()
    with EnvironmentContext(cfg, script, fn=probe, as_sql=False):
        script.run_env()
    out["ms"] = round((time.perf_counter() - started) * 1000, 2)
    return out
