"""What each statement does besides its DDL: catalog writes, and the locks it takes (the
locks check)."""

import os
import re
import sys

from .errors import _relative
from .state import ROUTE, STATE


# Statements that change the schema without DDL: writes to the system catalogs (the old
# "DELETE FROM pg_enum" way of removing an enum value) and role changes. The gate's
# incremental snapshots learn of schema changes from DDL event triggers, which these bypass;
# a step that ran one gets a whole snapshot instead.
_CATALOG_WRITE = re.compile(
    r"\b(?:insert\s+into|update|delete\s+from)\s+(?:\"?pg_catalog\"?\s*\.\s*)?\"?pg_[a-z_]+"
    r"|\b(?:create|alter|drop)\s+(?:role|user|group)\b",
    re.IGNORECASE,
)


# --- what each statement locks (the locks check) ---------------------------------------------
# While a step runs with an "observe" request, every statement the migration's own connection
# executes is followed by one catalog read on that same connection: the relation locks it holds
# on the tables that existed before the revision, and those tables' relfilenode (a change is a
# rewrite of the table's storage). Locks are held until the transaction ends, so a lock seen
# for the first time belongs to the statement that just ran.
def _start_observing(observe):
    if not observe:
        STATE["observe"] = None
        return
    # multidb: the tables of each section's database, by database (oids are per database).
    by_database = {}
    for t in observe.get("tables", []):
        by_database.setdefault(t.get("database") or "", []).append(t)
    STATE["observe"] = {
        "versionTable": observe.get("versionTable"),
        "events": [],
        "databases": {name: _observed_tables(ts) for name, ts in by_database.items()},
    }


def _observed_tables(listed):
    tables = {int(t["oid"]): t for t in listed}
    # A statement that names none of these tables cannot lock or rewrite one of them (a foreign
    # key names its parent; a cascade does not take locks this check reports): not probed.
    names = sorted({t["name"].split(".")[-1] for t in tables.values()}, key=len, reverse=True)
    return {
        "mentions": re.compile(r"\b(?:%s)\b" % "|".join(re.escape(n) for n in names), re.IGNORECASE) if names else None,
        "tables": tables,
        "filenodes": {oid: int(t["filenode"]) for oid, t in tables.items()},
        "held": {},  # (oid, mode) -> index of the event that took it
    }


def _observed_for(top, conn):
    """The observed tables of the database `conn` is on (the one database, or its multidb section's)."""
    databases = top["databases"]
    if "" in databases:
        return databases[""]
    try:
        name = conn.engine.url.database
    except Exception:
        name = None
    return databases.get(name) or databases.get((ROUTE.get("twin") or {}).get("database"))


def _revision_line():
    """The line of the revision file that is running (the innermost frame in a revision script)."""
    paths = STATE.get("revision_paths")
    if paths is None:
        paths = set()
        try:
            for sc in STATE["script"].walk_revisions("base", "heads"):
                paths.add(os.path.realpath(sc.path))
        except Exception:
            pass
        STATE["revision_paths"] = paths
    real = STATE.setdefault("realpaths", {})
    frame = sys._getframe(2)
    while frame is not None:
        name = frame.f_code.co_filename
        if name not in real:
            real[name] = os.path.realpath(name)
        if real[name] in paths:
            return _relative(name), frame.f_lineno
        frame = frame.f_back
    return None, None


# Statements that can take a lock stronger than ROW EXCLUSIVE or rewrite a table; others (queries,
# row changes, Alembic's own version-table statements) are not probed: the locks they take
# block nobody, and an exclusive lock still held when they run is known from the last probe.
_LOCKING = re.compile(r"^\s*(?:create|alter|drop|truncate|lock|vacuum|cluster|reindex|refresh|comment|do|call|select\s+\w+\s*\()", re.IGNORECASE)
_DATA = re.compile(r"^\s*(?:update|insert|delete|copy|merge)\b", re.IGNORECASE)


def _transaction_ended(*_args):
    top = STATE.get("observe")
    if top:
        for obs in top["databases"].values():
            obs["held"].clear()


def _observe_locks(conn, cursor, statement, parameters, context, executemany):
    top = STATE.get("observe")
    if not top or not isinstance(statement, str):
        return
    obs = _observed_for(top, conn)
    if not obs or not obs["tables"]:
        return
    if not _LOCKING.match(statement) or not obs["mentions"] or not obs["mentions"].search(statement):
        held = obs["held"]
        exclusive = sorted({held[k] for k in held if k[1] == "AccessExclusiveLock"})
        if exclusive and _DATA.match(statement) and not re.search(r"\b%s\b" % re.escape(top.get("versionTable") or "alembic_version"), statement):
            file, line = _revision_line()
            top["events"].append({"sql": statement.strip()[:400], "file": file, "line": line, "locks": [], "held": [], "rewritten": [], "afterExclusive": exclusive, "lockTimeout": None})
        return
    oids = ",".join(str(o) for o in obs["tables"])
    try:
        cur = conn.connection.cursor()
        try:
            cur.execute(
                "SELECT c.oid::int, c.relfilenode::int, l.mode, current_setting('lock_timeout') "
                "FROM pg_class c LEFT JOIN pg_locks l ON l.relation = c.oid AND l.pid = pg_backend_pid() "
                "AND l.locktype = 'relation' AND l.granted WHERE c.oid IN (%s)" % oids
            )
            rows = cur.fetchall()
        finally:
            try:
                cur.close()
            except Exception:
                pass
    except Exception:
        return
    now = {(int(r[0]), r[2]) for r in rows if r[2]}
    held = obs["held"]
    if any(key not in now for key in held):
        held.clear()  # a lock went away: the earlier transaction ended
    new = sorted(k for k in now if k not in held)
    rewritten = []
    for r in rows:
        oid, filenode = int(r[0]), int(r[1])
        if filenode != obs["filenodes"].get(oid, filenode):
            rewritten.append(oid)
            obs["filenodes"][oid] = filenode
    exclusive_before = sorted({held[k] for k in held if k[1] == "AccessExclusiveLock"})
    # Locks this statement needed but the transaction already held (an index built, a column
    # scanned, on a table an earlier statement locked): the statement keeps them longer.
    names = obs["tables"]
    already = sorted(
        k for k in now if k in held and re.search(r"\b%s\b" % re.escape(names[k[0]]["name"].split(".")[-1]), statement, re.IGNORECASE)
    )
    lock_timeout = rows[0][3] if rows else None
    if not new and not rewritten and not exclusive_before and not already:
        return
    file, line = _revision_line()
    index = len(top["events"])
    top["events"].append(
        {
            "sql": statement.strip()[:400],
            "file": file,
            "line": line,
            "locks": [{"table": names[o]["name"], "mode": m} for o, m in new],
            "held": [{"table": names[o]["name"], "mode": m} for o, m in already],
            "rewritten": [names[o]["name"] for o in rewritten],
            "afterExclusive": exclusive_before,
            "lockTimeout": lock_timeout,
        }
    )
    for k in new:
        held[k] = index


def _watch_catalog_writes(conn, cursor, statement, parameters, context, executemany):
    if not STATE["catalog_write"] and isinstance(statement, str) and _CATALOG_WRITE.search(statement):
        STATE["catalog_write"] = True
