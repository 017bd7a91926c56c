"""The revision graph as the gate sees it (cmd_graph): every revision with its code hashes, or
the files that keep it from loading."""

import os
import traceback

from .config import _alembic_option
from .errors import _error_payload, _locate, _relative
from .history import _code_hashes
from .state import STATE


def _file_errors(script_dirs):
    """Import every .py under the version locations separately, so each bad file is named."""
    from alembic.util import load_python_file

    errors = []
    for directory in script_dirs:
        if not os.path.isdir(directory):
            continue
        for name in sorted(os.listdir(directory)):
            if not name.endswith(".py") or name.startswith("__"):
                continue
            try:
                load_python_file(directory, name)
            except Exception as exc:
                file, line = _locate(exc)
                errors.append(
                    {
                        "file": file or os.path.join(directory, name),
                        "line": line,
                        "message": "".join(
                            traceback.format_exception_only(type(exc), exc)
                        ).strip(),
                    }
                )
    return errors


def _version_dirs():
    cfg = STATE["config"]
    from alembic.script import ScriptDirectory

    loc = _alembic_option(cfg, "script_location")
    base = os.path.abspath(loc.replace("%(here)s", os.path.dirname(cfg.config_file_name or cfg.toml_file_name)))
    if ":" in loc and not os.path.isdir(base):
        # package resource form: "mypkg:migrations"
        try:
            base = ScriptDirectory.from_config(cfg).dir
        except Exception:
            pass
    dirs = [os.path.join(base, "versions")]
    extra = cfg.get_main_option("version_locations")
    if extra:
        sep = cfg.get_main_option("version_path_separator") or None
        splitter = {"os": os.pathsep, "space": " ", "newline": "\n", ":": ":", ";": ";"}.get(
            sep or "", None
        )
        parts = extra.split(splitter) if splitter else extra.replace(",", " ").split()
        dirs = [os.path.abspath(p.strip()) for p in parts if p.strip()]
    return dirs


def _duplicate_revisions():
    return sorted((rev, sorted(paths)) for rev, paths in STATE.get("declared", {}).items() if len(paths) > 1)


def _tuple(value):
    if value is None:
        return []
    if isinstance(value, (list, tuple, set, frozenset)):
        return sorted(str(v) for v in value)
    return [str(value)]


def _graph():
    script = STATE["script"]
    if script is None:
        exc = STATE["script_error"]
        errors = []
        try:
            errors = _file_errors(_version_dirs())
        except Exception:
            pass
        if not errors and exc is not None:
            payload = _error_payload(exc)
            errors = [
                {
                    "file": payload.get("file"),
                    "line": payload.get("line"),
                    "message": payload["message"],
                }
            ]
        return {"ok": False, "revisions": [], "heads": [], "errors": errors}
    duplicates = _duplicate_revisions()
    if duplicates:
        return {
            "ok": False,
            "revisions": [],
            "heads": [],
            "errors": [
                {
                    "file": paths[1],
                    "line": None,
                    "kind": "duplicate",
                    "message": "revision id %s is declared by %s and %s; Alembic silently keeps only one of them: give the other a new id (and update the down_revision that names it)"
                    % (rev, ", ".join(_relative(p) for p in paths[:-1]), _relative(paths[-1])),
                }
                for rev, paths in duplicates
            ],
        }
    revisions = []
    for sc in script.walk_revisions("base", "heads"):
        code = _code_hashes(sc.path)
        up, down = code.get("upgrade", (None, None)), code.get("downgrade", (None, None))
        revisions.append(
            {
                "revision": sc.revision,
                "downRevisions": _tuple(sc.down_revision),
                "branchLabels": sorted(_tuple(sc.branch_labels)),
                "dependsOn": _tuple(sc.dependencies),
                "message": (sc.doc or "").strip(),
                "path": sc.path,
                "upgradeHash": up[0],
                "downgradeHash": down[0],
                "upgradeCode": up[1],
                "downgradeCode": down[1],
            }
        )
    return {
        "ok": True,
        "revisions": revisions,
        "heads": list(script.get_heads()),
        "errors": [],
    }


def cmd_graph(req):
    return _graph()
