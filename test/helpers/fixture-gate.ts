// The CLI on fixture projects with the usual arguments (base `main`, the test Python, the shared
// PostgreSQL server), for the check-by-check suites; each repository is removed after the file.
import { afterAll } from 'vitest';
import type { CheckResult, Report } from '../../src/report/types.js';
import { makeFixtureRepo, type FixtureRepo } from './fixture-repo.js';
import { runCli, type CliResult } from './run-cli.js';

export const PYTHON = process.env.ALEMBIC_GATE_TEST_PYTHON ?? '/usr/bin/python3';
export const SERVER = process.env.ALEMBIC_GATE_TEST_SERVER ?? 'postgresql://postgres@127.0.0.1:5432/postgres';

/** `gate(fixture, ...extra args)`; call once per test file (it registers the clean-up). */
export function fixtureGate(): (name: string, ...args: string[]) => Promise<CliResult> {
  const repos: FixtureRepo[] = [];
  afterAll(async () => {
    for (const r of repos) await r.cleanup();
  });
  return async (name, ...args) => {
    const repo = await makeFixtureRepo(name);
    repos.push(repo);
    return runCli(repo.dir, ['--base', 'main', '--python', PYTHON, '--database-url', SERVER, ...args]);
  };
}

export const explain = (r: CliResult) => `exit ${r.code}\n${r.stderr}\n${JSON.stringify(r.report?.checks, null, 1)?.slice(0, 3000)} ${r.report?.error ?? ''}`;
export const check = (report: Report | undefined, id: string): CheckResult => report!.checks.find((c) => c.id === id)!;
