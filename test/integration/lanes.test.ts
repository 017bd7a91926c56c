// Long walks in parallel lanes (src/engine/lanes.ts), end to end through the CLI: a generated
// history long enough for two lanes (bench/generate.mjs: tables, enums, indexes, foreign keys,
// added and widened columns, every downgrade correct, models matching), with one defect planted
// in the last lane's chunk and one in the models. The last lane goes on with drift and the SQL
// preview while the first finishes; the verdict must be the one a single walk gives.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
// @ts-expect-error: a plain ES module of the benchmark, without types
import { generateProject } from '../../bench/generate.mjs';
import type { Report } from '../../src/report/types.js';
import { projectRoot } from '../helpers/fixture-repo.js';
import { runCli } from '../helpers/run-cli.js';

const PYTHON = process.env.ALEMBIC_GATE_TEST_PYTHON ?? '/usr/bin/python3';
const SERVER = process.env.ALEMBIC_GATE_TEST_DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres';
const N = 72; // two lanes of at least 30 revisions each (MIN_REVISIONS_PER_LANE)

let dir: string;
const git = (...args: string[]) =>
  execFileSync('git', args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@example.com', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@example.com' } });

let last: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'ag-lanes-it-'));
  git('init', '-q', '-b', 'main');
  git('commit', '-q', '--allow-empty', '-m', 'base');
  generateProject(dir, N, join(projectRoot, 'examples', 'shop', 'base'));
  // The last revision's downgrade forgets everything it should undo.
  const versions = join(dir, 'migrations', 'versions');
  const file = readdirSync(versions).sort().at(-1)!;
  last = /^(r\d+)_/.exec(file)![1]!;
  const text = readFileSync(join(versions, file), 'utf8');
  writeFileSync(join(versions, file), text.replace(/def downgrade\(\):\n(?: {4}.*\n?)+/, 'def downgrade():\n    pass\n'));
  // A model column no revision adds.
  const models = join(dir, 'app', 'models.py');
  writeFileSync(models, readFileSync(models, 'utf8').replace("    't0', metadata,\n", "    't0', metadata,\n    sa.Column('nickname', sa.String(length=40), nullable=True),\n"));
  git('add', '-A');
  git('commit', '-q', '-m', `${N} revisions`);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe.skipIf(availableParallelism() < 2)('two lanes (a machine with 2 cores or more)', () => {
  let report: Report;
  let code: number;
  beforeAll(async () => {
    const r = await runCli(dir, ['--base', 'HEAD~1', '--roundtrip', 'all', '--python', PYTHON, '--database-url', SERVER], { timeoutMs: 110_000 });
    code = r.code;
    report = r.report!;
    expect(report, r.stderr).toBeDefined();
  });

  it('walks in two lanes', () => {
    expect(report.timings.lane0Ms).toBeGreaterThan(0);
    expect(report.timings.lane1Ms).toBeGreaterThan(0);
  });

  it("fails roundtrip on the last lane's revision, drift on the model, and exits 1", () => {
    expect(code).toBe(1);
    const roundtrip = report.checks.find((c) => c.id === 'roundtrip')!;
    expect(roundtrip.status).toBe('fail');
    expect(new Set(roundtrip.findings.map((f) => f.revision))).toEqual(new Set([last]));
    expect(roundtrip.findings[0]!.message).toMatch(new RegExp(`^downgrade of ${last} leaves `));
    expect(roundtrip.summary).toMatch(new RegExp(`^1 of ${N} revisions does not round-trip cleanly`));
    const drift = report.checks.find((c) => c.id === 'drift')!;
    expect(drift.findings.map((f) => f.message)).toEqual(['model has column t0.nickname (VARCHAR(40)); the migrated schema does not']);
    expect(report.drift?.suggestedMigration).toContain("op.add_column('t0', sa.Column('nickname', sa.String(length=40), nullable=True))");
  });

  it('has the SQL preview of every revision, the last one included', () => {
    expect(report.sql.map((s) => s.revision)).toHaveLength(N);
    expect(report.sql.every((s) => s.upgrade !== null && !s.error)).toBe(true);
  });
});
