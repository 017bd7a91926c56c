"""alembic-gate worker: runs Alembic in-process for one source tree.

Spoken to over line-delimited JSON: one request per line on a private copy of the original
stdin, one response per line on a private copy of the original stdout. Before any user code
runs, file descriptor 0 is pointed at /dev/null (an `input()` in a migration gets EOF instead of
reading the protocol) and descriptor 1 at stderr (prints from env.py, models or migrations,
Python or C level, cannot corrupt the protocol); the private copies are not inherited by the
processes user code starts.

Every process user code starts ends with the worker: it is a child subreaper (orphans of
double-forked or setsid daemons are re-parented to it, not to init), and on exit, or as soon as
the gate's end of the request channel closes (the gate was killed), it stops and kills all of
its descendants.

It loads the user's alembic.ini and env.py unmodified, the way `python -m alembic` would from
the ini's directory, and keeps one ScriptDirectory for the life of the process so revision
files are read once, not once per step.
"""

# The modules, by concern (state.py holds the state they share):
#   protocol     the private request/response channel, _send, the hello, notices
#   errors       GateError and error payloads that name the user's file and line
#   config       the Alembic Config: ini, pyproject.toml, Flask-Migrate; multidb sections
#   project      loading the project (cmd_load), revision-file checks, the Flask app context
#   graph        the revision graph (cmd_graph)
#   history      what each revision's upgrade() and downgrade() mean: the code hashes
#   guard        where every connection lands (routing, driver patches, the live check)
#   mysql_guard  the same for MySQL/MariaDB: the drivers' spellings, pymysql and MySQLdb
#   session      the throwaway database of the moment (cmd_database) and connection reuse
#   observe      locks and catalog writes of each statement
#   irreversible downgrade() wrappers that tell irreversible revisions from crashes
#   steps        upgrade, downgrade, setup, bootstrap and offline SQL
#   drift        the models against the migrated schema (cmd_drift)
#   compat       the deployed code against the schema after the PR (cmd_compat)
#   procs        the processes user code starts: subreaper, reaping, exit
#   main         the command table and the request loop
#   alembic_private  every use of a private Alembic API, with fallbacks
