#!/usr/bin/env node
// npm run bench [-- --n 50,200,1000 --stacks debian,sid --shell-sample 10 --python /usr/bin/python3 --database-url URL]
//
// Python stacks: `debian` is the interpreter as it is (bookworm: Alembic 1.8, SQLAlchemy 1.4);
// `sid` puts the stack of scripts/sid-stack.sh (Alembic 1.18, SQLAlchemy 2.0) on PYTHONPATH.
// For each stack, besides the table below, the small-project verdict: the gate in pull-request
// mode on the bundled example (3 revisions) with its default local provider, best of five.
//
// Times, on the same machine and the same PostgreSQL server, for generated projects of N
// revisions (every downgrade correct, models matching):
//   (a) the gate:       alembic-gate check --roundtrip all (snapshots, diffs, drift, graph, SQL)
//   (b) in-process:     one Python process, upgrade/downgrade/upgrade per revision through
//                       EnvironmentContext with one ScriptDirectory (pytest-alembic's way), no comparison
//   (c) shell loop:     the same three steps as separate `python -m alembic` processes,
//                       sampled on evenly spread revisions and scaled to N
// Prints a table and writes bench/results/latest.json.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { makeRepo } from '../scripts/fixture-repo.mjs';
import { generateProject } from './generate.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const { values } = parseArgs({
  options: {
    n: { type: 'string', default: '50,200' },
    stacks: { type: 'string', default: 'debian,sid' },
    'shell-sample': { type: 'string', default: '8' },
    repeat: { type: 'string', default: '2' },
    python: { type: 'string', default: process.env.ALEMBIC_GATE_PYTHON ?? '/usr/bin/python3' },
    'database-url': { type: 'string', default: 'postgresql://postgres@127.0.0.1:5432/postgres' },
    out: { type: 'string', default: join(root, 'bench', 'results', 'latest.json') },
  },
});
const sizes = values.n.split(',').map(Number);
const python = values.python;
const serverUrl = values['database-url'];
const sample = Number(values['shell-sample']);
const repeat = Math.max(1, Number(values.repeat));

const git = (cwd, ...args) => execFileSync('git', args, { cwd, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, GIT_AUTHOR_NAME: 'bench', GIT_AUTHOR_EMAIL: 'b@example.com', GIT_COMMITTER_NAME: 'bench', GIT_COMMITTER_EMAIL: 'b@example.com' } });

async function withServer(fn) {
  const client = new pg.Client({ connectionString: serverUrl });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

async function freshDb(name) {
  await withServer(async (c) => {
    await c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
    await c.query(`CREATE DATABASE "${name}"`);
  });
  const u = new URL(serverUrl);
  u.pathname = `/${name}`;
  return u.toString();
}

const dropDb = (name) => withServer((c) => c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`));

/** Runs a command under /usr/bin/time, returns wall ms and peak RSS (KiB) of the largest process. */
let stackEnv = process.env;

function timed(cmd, args, opts) {
  opts = { env: stackEnv, ...opts };
  const t = performance.now();
  const r = spawnSync('/usr/bin/time', ['-f', '__MAXRSS__%M', cmd, ...args], { ...opts, encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 });
  const ms = performance.now() - t;
  const m = /__MAXRSS__(\d+)/.exec(r.stderr ?? '');
  return { ms, status: r.status, stdout: r.stdout, stderr: r.stderr, maxRssKb: m ? Number(m[1]) : null };
}

// The generated revisions build plain indexes on existing tables: the locks check is reported
// (and, in the data run, its cost measured) but does not decide whether a run passed.
const FAIL_ON = ['--fail-on', 'graph,heads,history,upgrade,roundtrip,drift,data'];

/** The gate's CLI in `dir`, timed; its JSON report, which must pass (`what` names the project in the error). */
function runGateCli(dir, args, what, env = {}) {
  const out = join(dir, 'report.json');
  const run = timed(process.execPath, [join(root, 'dist', 'cli.js'), 'check', ...args, ...FAIL_ON, '--python', python, '--format', 'json', '--output', out], { cwd: dir, env: { ...stackEnv, ...env } });
  const report = JSON.parse(readFileSync(out, 'utf8'));
  if (report.status !== 'pass') throw new Error(`the gate did not pass on ${what}: ${JSON.stringify(report.checks.filter((c) => c.status !== 'pass'), null, 1).slice(0, 2000)} ${report.error ?? ''}`);
  return { run, report };
}

async function benchOne(n) {
  const dir = mkdtempSync(join(tmpdir(), `alembic-gate-bench-${n}-`));
  try {
    // A repository whose base has no Alembic setup yet and whose head adds all N revisions.
    git(dir, 'init', '-q', '-b', 'main');
    git(dir, 'commit', '-q', '--allow-empty', '-m', 'base');
    const gen = generateProject(dir, n, join(root, 'examples', 'shop', 'base'));
    git(dir, 'add', '-A');
    git(dir, 'commit', '-q', '-m', `${n} revisions`);

    // (a) the gate and (b) the in-process baseline, interleaved, best of `repeat` each: this
    // machine is a shared VM whose speed drifts by tens of percent between minutes.
    let gate = null;
    let report = null;
    let inproc = null;
    let inprocResult = null;
    for (let k = 0; k < repeat; k++) {
      const { run: g, report: rep } = runGateCli(dir, ['--base', 'HEAD~1', '--roundtrip', 'all', '--database-url', serverUrl], `the generated project (N=${n})`);
      if (!gate || g.ms < gate.ms) [gate, report] = [g, rep];

      const dbB = `alembic_gate_bench_inproc_${n}`;
      const urlB = await freshDb(dbB);
      const b = timed(python, [join(root, 'bench', 'baseline_inprocess.py'), join(dir, 'alembic.ini'), urlB], { cwd: dir });
      await dropDb(dbB);
      if (b.status !== 0) throw new Error(`in-process baseline failed: ${b.stderr.slice(-2000)}`);
      if (!inproc || b.ms < inproc.ms) [inproc, inprocResult] = [b, JSON.parse(b.stdout.trim().split('\n').pop())];
    }

    // (c) shell loop, sampled: bring the database to just below revision j untimed, then time
    // the three commands a shell loop runs for it.
    const dbC = `alembic_gate_bench_shell_${n}`;
    const urlC = await freshDb(dbC);
    const ini = join(dir, 'alembic-shell.ini');
    writeFileSync(ini, readFileSync(join(dir, 'alembic.ini'), 'utf8').replace(/^sqlalchemy\.url = .*$/m, `sqlalchemy.url = ${urlC}`));
    const alembic = (...args) => {
      const t = performance.now();
      const r = spawnSync(python, ['-m', 'alembic', '-c', ini, ...args], { cwd: dir, encoding: 'utf8', env: stackEnv });
      if (r.status !== 0) throw new Error(`python -m alembic ${args.join(' ')} failed: ${r.stderr.slice(-1500)}`);
      return performance.now() - t;
    };
    const picks = [...new Set(Array.from({ length: Math.min(sample, n) }, (_, k) => Math.floor(((k + 0.5) * n) / Math.min(sample, n))))];
    let shellSampleMs = 0;
    for (const j of picks) {
      const rev = gen.revisions[j];
      const down = j === 0 ? 'base' : gen.revisions[j - 1];
      if (j > 0) alembic('upgrade', down);
      shellSampleMs += alembic('upgrade', rev) + alembic('downgrade', down) + alembic('upgrade', rev);
      alembic('downgrade', 'base');
    }
    await dropDb(dbC);
    const shellMs = (shellSampleMs / picks.length) * n;

    // (d) the data check's cost: the same project with its last 10 revisions as the pull request,
    // so the base state has the tables of N - 10 revisions to fill with synthetic rows.
    const data = benchData(n);

    const t = report.timings;
    return {
      data,
      seedShareOfWalk: data ? +(data.seedMs / t.roundtripMs).toFixed(3) : null,
      n,
      tables: gen.tables,
      enums: gen.enums,
      gateMs: Math.round(gate.ms),
      gateReportedMs: t.totalMs,
      inprocessMs: Math.round(inproc.ms),
      inprocessRoundTripsMs: inprocResult.roundTripsMs,
      shellMs: Math.round(shellMs),
      shellSampled: picks.length,
      gatePerRevisionMs: +(gate.ms / n).toFixed(1),
      inprocessPerRevisionMs: +(inproc.ms / n).toFixed(1),
      ratioGateInprocess: +(gate.ms / inproc.ms).toFixed(2),
      ratioShellGate: +(shellMs / gate.ms).toFixed(1),
      gatePeakRssMb: gate.maxRssKb ? Math.round(gate.maxRssKb / 1024) : null,
      inprocessPeakRssMb: inprocResult.maxRssKb ? Math.round(inprocResult.maxRssKb / 1024) : null,
      phases: t,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const pad = (s, w) => String(s).padStart(w);

function benchData(n) {
  if (n < 20) return null;
  const dir = mkdtempSync(join(tmpdir(), `alembic-gate-bench-data-${n}-`));
  try {
    const gen = generateProject(dir, n, join(root, 'examples', 'shop', 'base'));
    const versions = join(dir, 'migrations', 'versions');
    const fresh = gen.revisions.slice(-10);
    const files = readdirSync(versions).filter((f) => fresh.some((r) => f.startsWith(`${r}_`)));
    git(dir, 'init', '-q', '-b', 'main');
    git(dir, 'add', '-A');
    for (const f of files) git(dir, 'rm', '-q', '--cached', join('migrations', 'versions', f));
    git(dir, 'commit', '-q', '-m', 'base');
    git(dir, 'add', '-A');
    git(dir, 'commit', '-q', '-m', '10 new revisions');
    const { run: g, report: rep } = runGateCli(dir, ['--base', 'HEAD~1', '--database-url', serverUrl], `the data run (N=${n})`);
    const dataCheck = rep.checks.find((c) => c.id === 'data');
    if (dataCheck?.status !== 'pass') throw new Error(`the data check did not pass (N=${n}): ${dataCheck?.summary}`);
    // The locks check: the same run's round trips with and without its observation, best of five each.
    const walk = (env) => Math.min(...[0, 1, 2, 3, 4].map(() => runGateCli(dir, ['--base', 'HEAD~1', '--database-url', serverUrl, '--seed-rows', '0'], `the locks run (N=${n})`, env).report.timings.roundtripMs));
    const withLocks = walk({});
    const withoutLocks = walk({ ALEMBIC_GATE_LOCKS: 'off' });
    const locksCheck = rep.checks.find((c) => c.id === 'locks');
    return { gateMs: Math.round(g.ms), seedMs: rep.timings.seedMs, dataMs: rep.timings.dataMs, summary: dataCheck.summary, locks: { withMs: withLocks, withoutMs: withoutLocks, summary: locksCheck?.summary }, compat: { ms: rep.timings.compatMs, walkMs: rep.timings.roundtripMs, summary: rep.checks.find((c) => c.id === 'compat')?.summary } };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The bundled example in pull-request mode, as a user runs it: default provider, best of `runs`. */
function smallProject(runs = 5) {
  const repo = makeRepo({ base: ['examples/shop/base'], pr: ['examples/shop/pr'] });
  try {
    let best = null;
    for (let k = 0; k < runs; k++) {
      const { run: g, report: rep } = runGateCli(repo.dir, ['--base', 'main'], 'the bundled example');
      if (!best || g.ms < best.ms) best = { ms: Math.round(g.ms), phases: rep.timings };
    }
    return best;
  } finally {
    repo.cleanup();
  }
}

function sidPythonPath() {
  return execFileSync('bash', [join(root, 'scripts', 'sid-stack.sh')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }).trim().split('\n').pop();
}

const machine = `${cpus().length} cores (${cpus()[0]?.model ?? '?'}), ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}`;
const server = await withServer(async (c) => (await c.query('SHOW server_version')).rows[0].server_version);
const stacks = [];
for (const stack of values.stacks.split(',').map((x) => x.trim()).filter(Boolean)) {
  if (stack === 'debian') stackEnv = { ...process.env, PYTHONPATH: '' };
  else if (stack === 'sid') stackEnv = { ...process.env, PYTHONPATH: sidPythonPath() };
  else throw new Error(`unknown stack "${stack}": use debian or sid`);
  const pyv = execFileSync(python, ['-c', 'import sys, alembic, sqlalchemy; print(sys.version.split()[0], alembic.__version__, sqlalchemy.__version__)'], { env: stackEnv }).toString().trim().split(' ');
  const results = [];
  for (const n of sizes) {
    process.stderr.write(`${stack}: N=${n} ...\n`);
    results.push(await benchOne(n));
  }
  process.stderr.write(`${stack}: the bundled example ...\n`);
  const small = smallProject();
  stacks.push({ stack, python: pyv[0], alembic: pyv[1], sqlalchemy: pyv[2], results, smallProject: small });
}

console.log(`alembic-gate benchmark: ${machine}; PostgreSQL ${server}`);
for (const { stack, python: pv, alembic, sqlalchemy, results, smallProject: small } of stacks) {
  console.log('');
  console.log(`stack ${stack}: Python ${pv}, Alembic ${alembic}, SQLAlchemy ${sqlalchemy}`);
  console.log(`${pad('N', 5)} ${pad('gate', 9)} ${pad('in-proc', 9)} ${pad('shell*', 10)} ${pad('gate/in-proc', 13)} ${pad('shell/gate', 11)} ${pad('gate ms/rev', 12)} ${pad('in-proc ms/rev', 15)} ${pad('gate RSS', 9)}`);
  for (const r of results) {
    console.log(`${pad(r.n, 5)} ${pad(`${(r.gateMs / 1000).toFixed(2)} s`, 9)} ${pad(`${(r.inprocessMs / 1000).toFixed(2)} s`, 9)} ${pad(`${(r.shellMs / 1000).toFixed(1)} s`, 10)} ${pad(r.ratioGateInprocess, 13)} ${pad(r.ratioShellGate, 11)} ${pad(r.gatePerRevisionMs, 12)} ${pad(r.inprocessPerRevisionMs, 15)} ${pad(`${r.gatePeakRssMb} MB`, 9)}`);
  }
  console.log(`gate and in-process: best of ${repeat} interleaved runs each. * shell loop: ${results[0]?.shellSampled} sampled revisions, three \`python -m alembic\` processes each, scaled to N`);
  console.log('gate phases (ms; phases overlap where they run concurrently):');
  const keys = [...new Set(results.flatMap((r) => Object.keys(r.phases)))];
  console.log(`${pad('N', 5)} ${keys.map((k) => pad(k.replace(/Ms$/, ''), 13)).join(' ')}`);
  for (const r of results) console.log(`${pad(r.n, 5)} ${keys.map((k) => pad(r.phases[k] ?? '-', 13)).join(' ')}`);
  for (const r of results) {
    if (r.data) console.log(`data check at N=${r.n} (last 10 revisions as the PR): seeding ${r.data.seedMs} ms = ${(r.seedShareOfWalk * 100).toFixed(1)} % of the --roundtrip all walk (${r.phases.roundtripMs} ms); data walk ${r.data.dataMs} ms; ${r.data.summary}`);
    if (r.data?.locks) console.log(`locks check at N=${r.n} (the same 10 new revisions, --seed-rows 0, best of 5): round trips ${r.data.locks.withMs} ms with the observation, ${r.data.locks.withoutMs} ms without (${(((r.data.locks.withMs - r.data.locks.withoutMs) / r.data.locks.withoutMs) * 100).toFixed(1)} %); ${r.data.locks.summary}`);
    if (r.data?.compat) console.log(`compat check at N=${r.n} (the same data run): ${r.data.compat.ms} ms = ${((r.data.compat.ms / r.phases.roundtripMs) * 100).toFixed(1)} % of the --roundtrip all walk (${r.phases.roundtripMs} ms), ${((r.data.compat.ms / r.data.compat.walkMs) * 100).toFixed(1)} % of that run's 10 round trips; ${r.data.compat.summary}`);
  }
  console.log(`small-project verdict (bundled example, PR mode, local provider, best of 5): ${(small.ms / 1000).toFixed(2)} s wall; phases ${JSON.stringify(small.phases)}`);
}

mkdirSync(dirname(values.out), { recursive: true });
writeFileSync(values.out, JSON.stringify({ date: new Date().toISOString(), machine, postgres: server, stacks }, null, 2) + '\n');
console.log(`\nwrote ${values.out}`);
