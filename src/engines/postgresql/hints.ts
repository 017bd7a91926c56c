// What to add to PostgreSQL's own error text: what the user can do about it.

/** The hint for an error a step on PostgreSQL failed with, or null. */
export function postgresqlHint(message: string, where: { label: string }): string | null {
  if (/No module named '?(psycopg2|psycopg|asyncpg)'?/.test(message)) {
    return `The Python used for the ${where.label} tree has no PostgreSQL driver: install psycopg2-binary (or psycopg) in the project's environment.`;
  }
  return /InsufficientPrivilege/.test(message) ? privilegeHint(message) : null;
}

/** What to do about a statement the unprivileged migration role may not run (SQLSTATE 42501). */
function privilegeHint(message: string): string {
  const opt = 'pass --migration-role superuser (action input migration-role)';
  if (/permission denied to create role/.test(message)) {
    return (
      'On a --database-url server older than PostgreSQL 16 the role alembic-gate runs migrations as may not create roles ' +
      `(there CREATEROLE would let it grant itself pg_execute_server_program): use PostgreSQL 16 or later, or the local provider, or ${opt}.`
    );
  }
  const ext = /permission denied to create extension "([^"]+)"/.exec(message)?.[1];
  if (ext) {
    return (
      `${ext} is not a trusted extension: only a superuser may create it, and alembic-gate runs migrations as a role that owns its database but is no superuser, as managed PostgreSQL does. ` +
      `If production's migration role may create ${ext} (or it is created before migrations run), ${opt}.`
    );
  }
  return (
    'alembic-gate runs migrations as a role that owns its databases but is no superuser, as managed PostgreSQL does, and this statement needs more. ' +
    `If production's migration role has that right, ${opt}.`
  );
}
