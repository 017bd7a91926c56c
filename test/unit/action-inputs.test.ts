import { describe, expect, it } from 'vitest';
import { parseInputs, type RawInputs } from '../../src/action/inputs.js';
import { CHECK_IDS } from '../../src/report/types.js';

function raw(over: Record<string, string> = {}): RawInputs {
  return {
    'working-directory': '',
    'alembic-config': '',
    python: '',
    'database-url': '',
    'database-url-env': '',
    'foreign-connections': '',
    'migration-role': '',
    'pass-env': '',
    provider: '',
    engine: '',
    'postgres-version': '',
    roundtrip: '',
    base: '',
    'fail-on': '',
    comment: '',
    'github-token': '',
    'allow-pull-request-target': '',
    'step-timeout': '',
    'flask-app': '',
    'allow-irreversible': '',
    bootstrap: '',
    'seed-rows': '',
    'seed-sql': '',
    ...over,
  };
}

describe('parseInputs', () => {
  it('fills defaults', () => {
    expect(parseInputs(raw())).toEqual({
      workingDirectory: '.',
      alembicConfig: 'alembic.ini',
      python: 'python3',
      databaseUrl: undefined,
      urlEnvVars: [],
      foreignConnections: 'redirect',
      migrationRole: 'unprivileged',
      passEnv: [],
      provider: 'auto',
      engine: 'auto',
      postgresVersion: undefined,
      roundtrip: 'new',
      base: undefined,
      failOn: [...CHECK_IDS],
      comment: 'on-failure',
      githubToken: '',
      allowPullRequestTarget: false,
      stepTimeoutMs: 600_000,
      flaskApp: undefined,
      allowIrreversible: false,
      bootstrap: undefined,
      seedRows: 5,
      seedSql: undefined,
    });
  });

  it('reads seed-rows and seed-sql, and names a bad row count', () => {
    const i = parseInputs(raw({ 'seed-rows': '0', 'seed-sql': 'db/rows.sql' }));
    expect([i.seedRows, i.seedSql]).toEqual([0, 'db/rows.sql']);
    expect(() => parseInputs(raw({ 'seed-rows': 'many' }))).toThrow("Input 'seed-rows': 'many' is not a number of rows per table (0 to 100000; 0 turns the synthetic rows off).");
  });

  it('reads flask-app and allow-irreversible', () => {
    const i = parseInputs(raw({ 'flask-app': 'shop:create_app()', 'allow-irreversible': 'true' }));
    expect([i.flaskApp, i.allowIrreversible]).toEqual(['shop:create_app()', true]);
    expect(() => parseInputs(raw({ 'allow-irreversible': 'yes' }))).toThrow("Input 'allow-irreversible': 'yes' is not a boolean");
  });

  it('uses the database URL when given with provider auto', () => {
    const i = parseInputs(raw({ 'database-url': 'postgresql://postgres@127.0.0.1:5432/postgres' }));
    expect(i.provider).toBe('url');
  });

  it.each([
    [{ provider: 'docker' }, "Input 'provider': 'docker' is not one of auto, url, local, embedded, container."],
    [{ roundtrip: 'some' }, "Input 'roundtrip': 'some' is not one of new, all, none."],
    [{ comment: 'sometimes' }, "Input 'comment': 'sometimes' is not one of always, on-failure, never."],
    [{ 'fail-on': 'roundtrip, speed' }, "Input 'fail-on': unknown check 'speed'"],
    [{ 'fail-on': ' , ' }, "Input 'fail-on': ',' names no check; use check ids from"],
    [{ 'allow-pull-request-target': 'yes' }, "Input 'allow-pull-request-target': 'yes' is not a boolean"],
    [{ 'database-url': 'mssql://x' }, "Input 'database-url': expected a database server URL such as <dialect>://user:password@host:port/database"],
    [{ 'database-url': 'localhost:5432' }, "Input 'database-url': expected a database server URL"],
    [{ engine: 'oracle' }, "Input 'engine': 'oracle' is not one of auto, "],
    [{ comment: 'Always' }, "Input 'comment': 'Always' is not one of always, on-failure, never."],
    [{ 'step-timeout': '500ms' }, "Input 'step-timeout': '500ms' is too short; a step needs at least 1s."],
    [{ provider: 'url' }, "Input 'provider': 'url' needs the 'database-url' input"],
    [{ 'postgres-version': 'latest' }, "Input 'postgres-version': 'latest' is not a PostgreSQL version"],
    [{ 'step-timeout': 'forever' }, "Input 'step-timeout': 'forever' is not a duration"],
    [{ 'database-url-env': 'OK_NAME, 1BAD' }, "Input 'database-url-env': '1BAD' is not an environment variable name."],
    [{ 'foreign-connections': 'allow' }, "Input 'foreign-connections': 'allow' is not one of redirect, refuse."],
    [{ 'migration-role': 'admin' }, "Input 'migration-role': 'admin' is not one of unprivileged, superuser."],
    [{ 'pass-env': 'API_KEY\nNOT-A-NAME' }, "Input 'pass-env': 'NOT-A-NAME' is not an environment variable name."],
  ] as [Record<string, string>, string][])('rejects %o naming the input', (over, message) => {
    expect(() => parseInputs(raw(over))).toThrow(message);
  });

  it('takes foreign-connections refuse', () => {
    expect(parseInputs(raw({ 'foreign-connections': 'refuse' })).foreignConnections).toBe('refuse');
  });

  it('takes migration-role superuser', () => {
    expect(parseInputs(raw({ 'migration-role': 'superuser' })).migrationRole).toBe('superuser');
  });

  it('parses lists, booleans and durations', () => {
    const i = parseInputs(
      raw({
        'fail-on': 'roundtrip\ndrift, heads',
        'allow-pull-request-target': 'TRUE',
        'step-timeout': '90s',
        'database-url-env': 'SQLALCHEMY_URL\nAPP_DB',
        'pass-env': 'SENTRY_AUTH_TOKEN, API_KEY',
        comment: 'always',
      }),
    );
    expect(i.failOn).toEqual(['roundtrip', 'drift', 'heads']);
    expect(i.allowPullRequestTarget).toBe(true);
    expect(i.stepTimeoutMs).toBe(90_000);
    expect(i.urlEnvVars).toEqual(['SQLALCHEMY_URL', 'APP_DB']);
    expect(i.passEnv).toEqual(['SENTRY_AUTH_TOKEN', 'API_KEY']);
    expect(i.comment).toBe('always');
  });

  it('knows all and none for fail-on, and several duration units', () => {
    expect(parseInputs(raw({ 'fail-on': 'all' })).failOn).toEqual([...CHECK_IDS]);
    expect(parseInputs(raw({ 'fail-on': 'none' })).failOn).toEqual([]);
    expect(parseInputs(raw({ 'step-timeout': '600' })).stepTimeoutMs).toBe(600_000);
    expect(parseInputs(raw({ 'step-timeout': '10m' })).stepTimeoutMs).toBe(600_000);
    expect(parseInputs(raw({ 'step-timeout': '1h' })).stepTimeoutMs).toBe(3_600_000);
  });
});
