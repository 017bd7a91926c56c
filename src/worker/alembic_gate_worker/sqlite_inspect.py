"""The SQLite inspector: the gate's own reader of a throwaway SQLite file's schema.

Run as the worker with --inspect-sqlite (`python3 -u alembic-gate-worker.pyz --inspect-sqlite`);
speaks one JSON object per line on stdin/stdout. It never runs the project's code and only ever opens the files it is
given, read-only (`mode=ro`: a missing file is an error, never created).

A snapshot is built from sqlite_master and the pragmas (table_xinfo, index_list, index_xinfo,
foreign_key_list), shaped like the engine-neutral model (src/snapshot/model.ts), and normalised
so that a batch-mode rebuild of a table (CREATE TABLE _alembic_tmp_x, copy, DROP, RENAME) with
the same columns, constraints and indexes reads the same: nothing depends on the CREATE TABLE
text but the CHECK constraints and constraint names, which the pragmas do not give.
"""
import json
import re
import sqlite3
import sys

SCHEMA = "main"


def _ident(token):
    """A SQL identifier token without its quotes."""
    if len(token) >= 2 and token[0] == token[-1] and token[0] in "\"`'":
        return token[1:-1].replace(token[0] * 2, token[0])
    if len(token) >= 2 and token[0] == "[" and token[-1] == "]":
        return token[1:-1]
    return token


_TOKEN = re.compile(
    r"""\s+|--[^\n]*|/\*.*?\*/|'(?:[^']|'')*'|"(?:[^"]|"")*"|`(?:[^`]|``)*`|\[[^\]]*\]|[A-Za-z_][A-Za-z0-9_$]*|\d+(?:\.\d*)?|<=|>=|<>|!=|==|\|\||<<|>>|\S""",
    re.S,
)


def _tokens(sql):
    return [t for t in _TOKEN.findall(sql or "") if not (t.isspace() or t.startswith("--") or t.startswith("/*"))]


def _spaced(tokens):
    """Tokens as text with one fixed spacing, so the layout a statement was written in never matters."""
    out = ""
    for t in tokens:
        if not out or out.endswith("(") or t in ("(", ")", ","):
            out += t
        else:
            out += " " + t
    return out


def _split_top(tokens):
    """The comma-separated items of a parenthesised list (the body of CREATE TABLE)."""
    items, depth, cur = [], 0, []
    for t in tokens:
        if t == "(":
            depth += 1
        elif t == ")":
            depth -= 1
        if t == "," and depth == 0:
            items.append(cur)
            cur = []
        else:
            cur.append(t)
    if cur:
        items.append(cur)
    return items


def _paren(tokens, start):
    """(tokens inside the parentheses opening at `start`, index after the closing one)."""
    depth = 0
    for i in range(start, len(tokens)):
        if tokens[i] == "(":
            depth += 1
        elif tokens[i] == ")":
            depth -= 1
            if depth == 0:
                return tokens[start + 1:i], i + 1
    return tokens[start + 1:], len(tokens)


def _table_body(sql):
    toks = _tokens(sql)
    for i, t in enumerate(toks):
        if t == "(":
            inner, _ = _paren(toks, i)
            return _split_top(inner)
    return []


_CONSTRAINT_WORDS = {"CONSTRAINT", "PRIMARY", "UNIQUE", "CHECK", "FOREIGN"}


def _parse_table(sql):
    """CHECK constraints and the names of named constraints, from the CREATE TABLE text."""
    checks, names = [], {"primary key": None, "unique": {}, "foreign key": {}}
    for item in _table_body(sql):
        if not item:
            continue
        table_level = item[0].upper() in _CONSTRAINT_WORDS
        column = None if table_level else _ident(item[0])
        i = 0 if table_level else 1
        name = None
        while i < len(item):
            word = item[i].upper()
            if word == "CONSTRAINT" and i + 1 < len(item):
                name = _ident(item[i + 1])
                i += 2
                continue
            if word == "CHECK" and i + 1 < len(item) and item[i + 1] == "(":
                inner, i = _paren(item, i + 1)
                checks.append({"name": name, "expr": _spaced(inner), "column": column})
                name = None
                continue
            if word == "PRIMARY":
                if name:
                    names["primary key"] = name
                name = None
            elif word == "UNIQUE" and table_level and i + 1 < len(item) and item[i + 1] == "(":
                inner, i = _paren(item, i + 1)
                if name:
                    names["unique"][tuple(_ident(t) for t in inner if t != ",")] = name
                name = None
                continue
            elif word == "UNIQUE" and not table_level:
                if name:
                    names["unique"][(column,)] = name
                name = None
            elif word == "FOREIGN" and i + 2 < len(item) and item[i + 2] == "(":
                inner, i = _paren(item, i + 2)
                if name:
                    names["foreign key"][tuple(_ident(t) for t in inner if t != ",")] = name
                name = None
                continue
            elif word == "REFERENCES" and not table_level:
                if name:
                    names["foreign key"][(column,)] = name
                name = None
            i += 1
    return checks, names


def _where(sql):
    """The WHERE of a partial index's CREATE INDEX."""
    toks = _tokens(sql)
    depth = 0
    for i, t in enumerate(toks):
        depth += t == "("
        depth -= t == ")"
        if depth == 0 and t.upper() == "WHERE":
            return _spaced(toks[i + 1:])
    return None


def _index_expressions(sql):
    """The indexed terms of a CREATE INDEX, as written (expressions have no column name)."""
    toks = _tokens(sql)
    for i, t in enumerate(toks):
        if t == "(":
            inner, _ = _paren(toks, i)
            return [_spaced(x) for x in _split_top(inner)]
    return []


def _default(value):
    """A column default as written, without the parentheses batch mode may add or drop."""
    if value is None:
        return None
    v = value.strip()
    while v.startswith("(") and v.endswith(")"):
        inner, end = _paren(_tokens(v), 0)
        if end != len(_tokens(v)):
            break
        v = _spaced(inner)
    return v


def _type(declared):
    return re.sub(r"\s+", " ", (declared or "").strip()).upper()


def _collapse(sql):
    return re.sub(r"\s+", " ", (sql or "").strip())


def snapshot(path, version_table="alembic_version"):
    con = sqlite3.connect("file:%s?mode=ro" % path.replace("?", "%3f").replace("#", "%23"), uri=True)
    try:
        return _snapshot(con, version_table)
    finally:
        con.close()


def _snapshot(con, version_table):
    q = lambda sql, *a: con.execute(sql, a).fetchall()  # noqa: E731
    snap = {k: [] for k in ("schemas", "extensions", "enums", "domains", "compositeTypes", "sequences", "tables",
                            "columns", "constraints", "indexes", "views", "routines", "triggers", "policies")}
    master = q("SELECT type, name, tbl_name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY type, name")
    for kind, name, table, sql in master:
        if kind == "table" and name != version_table:
            snap["tables"].append(_table(con, name, sql, snap))
        elif kind == "view":
            snap["views"].append({"schema": SCHEMA, "name": name, "materialized": False, "definition": _spaced(_tokens(sql)), "comment": None, "acl": []})
        elif kind == "trigger":
            snap["triggers"].append({"schema": SCHEMA, "table": table, "name": name, "definition": _spaced(_tokens(sql)), "enabled": "ORIGIN", "comment": None})
    return snap


def _table(con, name, sql, snap):
    quoted = '"%s"' % name.replace('"', '""')
    cols = con.execute("PRAGMA table_xinfo(%s)" % quoted).fetchall()
    checks, names = _parse_table(sql)
    options = " ".join(w for w in ("WITHOUT ROWID", "STRICT") if re.search(r"\)\s*(?:\w+\s*,\s*)*%s" % w.replace(" ", r"\s+"), sql or "", re.I))
    pk = sorted((c for c in cols if c[5]), key=lambda c: c[5])
    for cid, cname, ctype, notnull, dflt, _pk, hidden in cols:
        snap["columns"].append({
            "schema": SCHEMA, "table": name, "name": cname, "position": cid, "type": _type(ctype),
            # A primary key column is NOT NULL whatever it says (rowid tables excepted for
            # INTEGER PRIMARY KEY, which is the rowid and never NULL either).
            "notNull": bool(notnull) or (len(pk) == 1 and pk[0][1] == cname and _type(ctype) == "INTEGER"),
            "default": _default(dflt), "identity": None,
            "generated": ("VIRTUAL" if hidden == 2 else "STORED") if hidden in (2, 3) else None,
            "collation": None, "comment": None,
        })
    if pk:
        keys = ", ".join(c[1] for c in pk)
        snap["constraints"].append(_constraint(name, names["primary key"] or "%s_pkey" % name, "primary key", "PRIMARY KEY (%s)" % keys))
    for _seq, iname, unique, origin, partial in con.execute("PRAGMA index_list(%s)" % quoted).fetchall():
        info = con.execute('PRAGMA index_xinfo("%s")' % iname.replace('"', '""')).fetchall()
        keyed = sorted((r for r in info if r[5]), key=lambda r: r[0])
        if origin == "pk":
            continue
        if origin == "u":
            key = tuple(r[2] for r in keyed)
            cname = names["unique"].get(key) or "%s_%s_key" % (name, "_".join(key))
            snap["constraints"].append(_constraint(name, cname, "unique constraint", "UNIQUE (%s)" % ", ".join(key)))
            continue
        isql = con.execute("SELECT sql FROM sqlite_master WHERE type = 'index' AND name = ?", (iname,)).fetchone()
        isql = isql[0] if isql else None
        written = _index_expressions(isql)
        terms = []
        for n, r in enumerate(keyed):
            term = r[2] if r[1] >= 0 else (written[n] if n < len(written) else "<expression>")
            if r[3]:
                term += " DESC"
            if r[4] and r[4].upper() != "BINARY":
                term += " COLLATE " + r[4]
            terms.append(term)
        snap["indexes"].append({
            "schema": SCHEMA, "table": name, "name": iname, "definition": "(%s)" % ", ".join(terms),
            "unique": bool(unique), "predicate": _where(isql) if partial else None, "comment": None,
        })
    fks = {}
    for row in con.execute("PRAGMA foreign_key_list(%s)" % quoted).fetchall():
        fid, _seq, ref, src, dst, on_update, on_delete, _match = row
        fk = fks.setdefault(fid, {"ref": ref, "from": [], "to": [], "upd": on_update, "del": on_delete})
        fk["from"].append(src)
        fk["to"].append(dst)
    for fk in sorted(fks.values(), key=lambda f: (f["from"], f["ref"])):
        to = ", ".join(t for t in fk["to"] if t is not None)
        definition = "FOREIGN KEY (%s) REFERENCES %s%s" % (", ".join(fk["from"]), fk["ref"], " (%s)" % to if to else "")
        for word, action in (("UPDATE", fk["upd"]), ("DELETE", fk["del"])):
            if action and action.upper() != "NO ACTION":
                definition += " ON %s %s" % (word, action.upper())
        cname = names["foreign key"].get(tuple(fk["from"])) or "%s_%s_fkey" % (name, "_".join(fk["from"]))
        c = _constraint(name, cname, "foreign key", definition)
        c["onDelete"] = (fk["del"] or "NO ACTION").upper()
        c["onUpdate"] = (fk["upd"] or "NO ACTION").upper()
        snap["constraints"].append(c)
    for n, check in enumerate(sorted(checks, key=lambda c: (c["name"] or "", c["expr"]))):
        cname = check["name"] or "%s_check%s" % (name, "" if n == 0 else n)
        snap["constraints"].append(_constraint(name, cname, "check constraint", "CHECK (%s)" % check["expr"]))
    return {
        "schema": SCHEMA, "name": name, "kind": "table", "unlogged": False, "partitionOf": None,
        "partitionBound": None, "partitionKey": options or None, "rowSecurity": False,
        "forceRowSecurity": False, "comment": None, "acl": [],
    }


def _constraint(table, name, kind, definition):
    return {
        "schema": SCHEMA, "table": table, "name": name, "type": kind, "definition": definition,
        "validated": True, "deferrable": False, "initiallyDeferred": False,
        "onDelete": None, "onUpdate": None, "comment": None,
    }


def versions(path, table):
    con = sqlite3.connect("file:%s?mode=ro" % path.replace("?", "%3f").replace("#", "%23"), uri=True)
    try:
        return sorted(r[0] for r in con.execute('SELECT version_num FROM "%s"' % table.replace('"', '""')))
    except sqlite3.OperationalError as exc:
        if "no such table" in str(exc):
            return None
        raise
    finally:
        con.close()


def serve(inp=sys.stdin, out=sys.stdout):
    out.write(json.dumps({"ready": True, "version": sqlite3.sqlite_version}) + "\n")
    out.flush()
    for line in inp:
        if not line.strip():
            continue
        req = json.loads(line)
        try:
            if req["op"] == "snapshot":
                result = snapshot(req["path"], req.get("versionTable") or "alembic_version")
            elif req["op"] == "versions":
                result = versions(req["path"], req.get("versionTable") or "alembic_version")
            else:
                raise ValueError("unknown op %r" % req["op"])
            reply = {"id": req["id"], "ok": True, "result": result}
        except Exception as exc:  # the gate turns it into a message
            reply = {"id": req["id"], "ok": False, "error": "%s: %s" % (type(exc).__name__, exc)}
        out.write(json.dumps(reply) + "\n")
        out.flush()


if __name__ == "__main__":
    serve()
