# Unit tests of the worker's pure parts (stdlib unittest), run from the repository root:
#   /usr/bin/python3 -m unittest discover -s src/worker/tests -t src/worker   (npm run test:python)
# With src/worker as the top level, `alembic_gate_worker` imports from source. The Alembic tests
# need Alembic importable (either stack: PYTHONPATH=$(bash scripts/sid-stack.sh) for the second).
