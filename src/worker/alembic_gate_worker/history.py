"""What a revision's upgrade() and downgrade() mean, not how they are spelled: their canonical
code and its hash, for the history check (an edited, already-applied revision)."""

import ast
import hashlib
import re


_IDENTIFIERS = ("revision", "down_revision", "branch_labels", "depends_on")
_SQL_START = re.compile(
    r"^\s*(create|alter|drop|insert|update|delete|select|do|with|comment|grant|revoke|truncate|set|begin)\b",
    re.I,
)


def _canonicalise(tree):
    """What a revision's code means, not how it is spelled: u'' prefixes dropped, whitespace in
    SQL strings collapsed (not in PL/Python bodies, where indentation is code). In place: both
    functions of a file may share a module-level statement, and the change is idempotent."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant):
            node.kind = None
            value = node.value
            if isinstance(value, str) and _SQL_START.match(value) and not re.search(r"plpython", value, re.I):
                node.value = " ".join(value.split())
    return tree


def _bound_names(stmt):
    if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return {stmt.name}
    if isinstance(stmt, (ast.Import, ast.ImportFrom)):
        return {(a.asname or a.name).split(".")[0] for a in stmt.names}
    targets = []
    if isinstance(stmt, ast.Assign):
        targets = stmt.targets
    elif isinstance(stmt, (ast.AnnAssign, ast.AugAssign)):
        targets = [stmt.target]
    names = set()
    for t in targets:
        for n in ast.walk(t):
            if isinstance(n, ast.Name):
                names.add(n.id)
    return names


def _used_names(node):
    # `sa.Column` is an Attribute whose value is the Name `sa`: the walk reaches that Name too.
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}


def _import_lines(stmt, used):
    lines = []
    for a in stmt.names:
        if (a.asname or a.name).split(".")[0] not in used:
            continue
        alias = f" as {a.asname}" if a.asname else ""
        if isinstance(stmt, ast.ImportFrom):
            lines.append(f"from {'.' * (stmt.level or 0)}{stmt.module or ''} import {a.name}{alias}")
        else:
            lines.append(f"import {a.name}{alias}")
    return lines


def _strip_docstring(body):
    if (
        body
        and isinstance(body[0], ast.Expr)
        and isinstance(getattr(body[0], "value", None), ast.Constant)
        and isinstance(body[0].value.value, str)
    ):
        return body[1:]
    return body


def _function_code(tree, name):
    """The canonical source of `name` and of the module-level code it relies on: the helpers,
    constants and imports it names (transitively), and module-level statements that run on
    import. Import order, unused imports, comments, formatting and docstrings do not count."""
    module = _strip_docstring(list(tree.body))
    func = next(
        (s for s in module if isinstance(s, (ast.FunctionDef, ast.AsyncFunctionDef)) and s.name == name),
        None,
    )
    if func is None:
        return None
    binders = {}
    side_effects = []
    for stmt in module:
        if stmt is func:
            continue
        bound = _bound_names(stmt)
        if bound & set(_IDENTIFIERS) and isinstance(stmt, (ast.Assign, ast.AnnAssign)):
            continue  # revision identifiers: the graph compares them itself
        if bound:
            for n in bound:
                binders.setdefault(n, []).append(stmt)
        elif not isinstance(stmt, ast.Pass):
            side_effects.append(stmt)
    func = ast.FunctionDef(
        name=func.name,
        args=func.args,
        body=_strip_docstring(list(func.body)) or [ast.Pass()],
        decorator_list=func.decorator_list,
        returns=None,
        type_comment=None,
    )
    seen, order, included, pending = set(), [], set(), [func] + side_effects
    while pending:
        node = pending.pop()
        for n in sorted(_used_names(node)):
            if n in seen:
                continue
            seen.add(n)
            for stmt in binders.get(n, []):
                if id(stmt) not in included:  # a statement binding several names comes once
                    included.add(id(stmt))
                    order.append(stmt)
                    pending.append(stmt)
    parts, imports = [], set()
    for stmt in order:
        if isinstance(stmt, (ast.Import, ast.ImportFrom)):
            imports.update(_import_lines(stmt, seen))
        else:
            parts.append(stmt)
    body = sorted(parts, key=lambda s: s.lineno) + side_effects + [func]
    canonical = _canonicalise(ast.Module(body=body, type_ignores=[]))
    ast.fix_missing_locations(canonical)
    return "\n".join(sorted(imports) + [ast.unparse(canonical)])


def _code_hashes(path):
    """Per function: (hash, canonical code) of upgrade() and downgrade() with what they use."""
    try:
        with open(path, "rb") as fh:
            tree = ast.parse(fh.read(), filename=path)
    except Exception:
        return {}
    out = {}
    for name in ("upgrade", "downgrade"):
        code = _function_code(tree, name)
        if code is not None:
            out[name] = (hashlib.sha256(code.encode("utf-8")).hexdigest()[:16], code)
    return out
