"""alembic-gate worker: `python3 -u alembic-gate-worker.pyz`, or from source `python3 -u src/worker`
(a directory with a __main__.py runs as a zipapp does, with itself as sys.path[0]). What it does
is described in alembic_gate_worker/__init__.py."""

import sys

if __name__ == "__main__" and sys.argv[1:2] == ["--inspect-sqlite"]:
    # The gate's SQLite reader (alembic_gate_worker/sqlite_inspect.py): no project code, stdlib only.
    from alembic_gate_worker.sqlite_inspect import serve

    serve()
elif __name__ == "__main__":
    # The protocol channel first, before anything else is imported: descriptors 0 and 1 leave
    # the protocol before any code could read or print (see alembic_gate_worker/protocol.py).
    from alembic_gate_worker import protocol

    protocol.open_channel()

    from alembic_gate_worker.main import main
    from alembic_gate_worker.procs import _exit

    try:
        _code = main()
    except KeyboardInterrupt:
        _code = 130
    _exit(_code)
