#!/usr/bin/env node
// Records the JSON reports the rendering goldens are made from: real runs of the gate
// (dist/cli.js; build it first) on fixture projects, against a real PostgreSQL and the machine's
// Python, with what changes from run to run normalised (timings; the shas are fixed by the
// fixture repositories' dates). Then it re-renders the goldens (test/unit/report-goldens.test.ts
// with UPDATE_GOLDEN=1: test/__outputs__/<name>.md / .txt) and puts the leaky-enum comment in
// the README as its example.
//
//   node scripts/record-reports.mjs [--database-url URL] [--python PATH] [name ...]
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { makeFixtureRepo } from './fixture-repo.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const RECORDED = {
  // name: [fixture, extra arguments]
  clean: ['clean', []],
  'leaky-enum': ['leaky-enum', []],
  'two-heads': ['two-heads', []],
  'stale-base': ['stale-base', []],
  'syntax-error': ['syntax-error', []],
  'drift-missing-migration': ['drift-missing-migration', []],
  'data-not-null': ['data-not-null', []],
  'catalog-write-raw': ['catalog-write-raw', ['--migration-role', 'superuser']], // writes pg_catalog: a superuser's right
  'hostile-message': ['hostile-message', []],
  'hostile-log': ['hostile-log', []],
  'env-raises': ['env-raises', []],
  'locks-index': ['locks-index', []],
};

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    'database-url': { type: 'string', default: process.env.ALEMBIC_GATE_TEST_DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres' },
    python: { type: 'string', default: '/usr/bin/python3' },
  },
});

/** What differs between two runs of the same fixture; the rest is the run as it was. */
function normalise(report) {
  // Phases that run concurrently finish in either order: sorted, all zero but the total.
  report.timings = Object.fromEntries([...Object.keys(report.timings).filter((k) => k !== 'totalMs').sort().map((k) => [k, 0]), ['totalMs', 4200]]);
  for (const rev of report.revisions) {
    for (const step of Object.values(rev.steps)) if (step) step.ms = 40;
  }
  // Object ids the server hands out (an enum label's OID in an error message).
  const text = JSON.stringify(report).replace(/(invalid internal value for enum: )\d+/g, '$1<oid>');
  return JSON.parse(text);
}

const names = positionals.length ? positionals : Object.keys(RECORDED);
const out = join(root, 'test', '__outputs__', 'runs');
mkdirSync(out, { recursive: true });
for (const name of names) {
  const entry = RECORDED[name];
  if (!entry) throw new Error(`no recording named ${name} (known: ${Object.keys(RECORDED).join(', ')})`);
  const [fixture, extra] = entry;
  const repo = makeFixtureRepo(fixture);
  try {
    const r = spawnSync(
      process.execPath,
      [join(root, 'dist', 'cli.js'), 'check', '--base', 'main', '--python', values.python, '--database-url', values['database-url'], '--format', 'json', ...extra],
      { cwd: repo.dir, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } },
    );
    if (!r.stdout.trim().startsWith('{')) throw new Error(`${name}: no report (exit ${r.status}): ${r.stderr}`);
    const report = normalise(JSON.parse(r.stdout));
    writeFileSync(join(out, `${name}.json`), JSON.stringify(report, null, 2) + '\n');
    console.log(`${name}: ${report.status} (exit ${r.status})`);
  } finally {
    rmSync(repo.dir, { recursive: true, force: true });
  }
}

// The goldens, rendered from what was just recorded.
const render = spawnSync(process.execPath, [join(root, 'node_modules', 'vitest', 'vitest.mjs'), 'run', 'test/unit/report-goldens.test.ts', '-t', 'markdown and text|in colour'], {
  cwd: root,
  stdio: 'inherit',
  env: { ...process.env, UPDATE_GOLDEN: '1' },
});
if (render.status !== 0) process.exit(render.status ?? 1);

// The README's example comment: the leaky-enum run, without the hidden marker line.
const readmePath = join(root, 'README.md');
const readme = readFileSync(readmePath, 'utf8');
const comment = readFileSync(join(root, 'test', '__outputs__', 'leaky-enum.md'), 'utf8').split('\n').slice(2).join('\n').trim();
const updated = readme.replace(/(<!-- example-comment -->\n)[\s\S]*?(\n<!-- \/example-comment -->)/, (_m, open, close) => `${open}${comment}${close}`);
if (updated === readme && !readme.includes(comment)) throw new Error('README.md has no <!-- example-comment --> block');
writeFileSync(readmePath, updated);
console.log('goldens re-rendered; README example comment updated');
