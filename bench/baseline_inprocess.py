"""In-process baseline: what a pytest-alembic style test costs.

One Python process, one ScriptDirectory reused, env.py run per step through
EnvironmentContext: for each revision in order, upgrade to it, downgrade to its parent,
upgrade again. No schema comparison. Prints one JSON line with the timings.

usage: baseline_inprocess.py <alembic.ini> <sqlalchemy url>
"""
import json
import os
import resource
import sys
import time

started = time.perf_counter()
ini, url = sys.argv[1], sys.argv[2]
root = os.path.dirname(os.path.abspath(ini))
os.chdir(root)
sys.path.insert(0, root)

from alembic.config import Config  # noqa: E402
from alembic.runtime.environment import EnvironmentContext  # noqa: E402
from alembic.script import ScriptDirectory  # noqa: E402

cfg = Config(os.path.abspath(ini))
cfg.set_main_option("sqlalchemy.url", url)
script = ScriptDirectory.from_config(cfg)
revisions = list(reversed(list(script.walk_revisions("base", "heads"))))
loaded = time.perf_counter()


def run(direction, target):
    def fn(rev, context):
        if direction == "upgrade":
            return script._upgrade_revs(target, rev)
        return script._downgrade_revs(target, rev)

    with EnvironmentContext(cfg, script, fn=fn, destination_rev=target):
        script.run_env()


for sc in revisions:
    down = sc.down_revision or "base"
    run("upgrade", sc.revision)
    run("downgrade", down)
    run("upgrade", sc.revision)
done = time.perf_counter()
print(
    json.dumps(
        {
            "revisions": len(revisions),
            "loadMs": round((loaded - started) * 1000, 1),
            "roundTripsMs": round((done - loaded) * 1000, 1),
            "totalMs": round((done - started) * 1000, 1),
            "maxRssKb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
        }
    ),
    file=sys.__stdout__,
)
