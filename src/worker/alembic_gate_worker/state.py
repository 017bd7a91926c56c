"""State shared by the worker's modules: one dict each, mutated in place, never rebound (every
module imports these same objects)."""


# --- state -----------------------------------------------------------------------------------
STATE = {
    "config": None,  # alembic Config
    "script": None,  # ScriptDirectory, loaded once
    "script_error": None,
    "root": None,  # directory of alembic.ini
    "allowed": None,  # {"host","port","database"} of the throwaway database
    "catalog_write": False,  # set by _watch_catalog_writes during a step
    "foreign": None,  # description of a refused connection, if any
    "url": None,
    "statements": 0,  # SQL statements executed so far (see _guarded_downgrade)
    "flask": None,  # Flask-Migrate: {"app", "ctx", "url", "migrate"} (see _flask_context)
}


# Where the project's connections go (see guard.py, "where every connection lands").
ROUTE = {
    "mode": "redirect",  # or "refuse": a URL the gate did not hand out fails the step
    "twin": None,  # {"host","port","user","password","database","sslmode"} of the current database
    # Only the gate's server has this one: PostgreSQL's start time (microseconds); MySQL's
    # CONCAT(@@hostname, ':', @@port, ':', @@datadir).
    "marker": None,
    "ours": set(),  # (port, database) of every database the gate handed out
    # multidb: the current twin of each ini section but the first, and the section of every
    # (port, database) handed out for one, so a stale URL lands on its own section's twin.
    "sections": {},
    "section_of": {},
    "env": set(),  # environment variables the gate set (the job had not)
    "hosts": set(),  # host spellings of the gate's server
    "claimed": None,  # the one foreign identity redirected to the twin (one database per run)
    "noticed": set(),
    "notices": [],  # not yet sent to the gate
    "verified": None,  # id() of the reused connection, checked once
}


# The connection kept between steps (see session.py, "one connection for consecutive steps").
_REUSE = {"key": None, "conn": None, "busy": False}
