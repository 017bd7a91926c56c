// The bundled action (dist/index.js) run the way a GitHub runner runs it: INPUT_* variables,
// an event file, GITHUB_OUTPUT / GITHUB_STEP_SUMMARY files, RUNNER_TEMP, and GITHUB_API_URL
// pointing at a fake GitHub that already holds more than one page of other people's comments.
// Real engine, real Alembic (Debian's /usr/bin/python3), real PostgreSQL at 127.0.0.1:5432.
import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { FakeGitHub } from '../helpers/fake-github.js';
import { makeFixtureRepo } from '../helpers/fixture-repo.js';

const ROOT = join(import.meta.dirname, '..', '..');
const DATABASE_URL = process.env.ALEMBIC_GATE_TEST_DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres';
const PYTHON = process.env.ALEMBIC_GATE_TEST_PYTHON ?? '/usr/bin/python3';
const PR = 12;

type Fixture = Awaited<ReturnType<typeof makeFixtureRepo>>;

interface ActionResult {
  code: number;
  stdout: string;
  stderr: string;
  outputs: Record<string, string>;
  summary: string;
}

let tmp: string;
let gh: FakeGitHub;
const fixtures: Fixture[] = [];

beforeAll(() => {
  // The action runs from dist/: build it as check-dist would.
  execFileSync(process.execPath, ['scripts/build.mjs'], { cwd: ROOT, stdio: 'inherit' });
  tmp = mkdtempSync(join(tmpdir(), 'ag-action-it-'));
});
afterAll(async () => {
  for (const f of fixtures) await f.cleanup();
  rmSync(tmp, { recursive: true, force: true });
});

beforeEach(async () => {
  gh = new FakeGitHub({ owner: 'acme', repo: 'shop' });
  await gh.start();
  for (let i = 0; i < 150; i++) gh.seed(PR, `LGTM ${i}`, `reviewer${i % 4}`);
});
afterEach(() => gh.stop());

async function fixture(name: string): Promise<Fixture> {
  const f = await makeFixtureRepo(name);
  fixtures.push(f);
  return f;
}

/** Runs `node dist/index.js` asynchronously (the fake GitHub lives in this process and must keep answering). */
async function runAction(f: Fixture, inputs: Record<string, string> = {}, extraEnv: NodeJS.ProcessEnv = {}): Promise<ActionResult> {
  const runDir = mkdtempSync(join(tmp, 'run-'));
  const event = {
    action: 'synchronize',
    number: PR,
    pull_request: { number: PR, base: { sha: f.baseSha, ref: 'main' }, head: { sha: f.headSha, ref: 'feature' } },
    repository: { full_name: 'acme/shop', default_branch: 'main' },
  };
  writeFileSync(join(runDir, 'event.json'), JSON.stringify(event));
  writeFileSync(join(runDir, 'output'), '');
  writeFileSync(join(runDir, 'summary'), '');
  const allInputs: Record<string, string> = {
    'working-directory': '.',
    'alembic-config': 'alembic.ini',
    python: PYTHON,
    'database-url': DATABASE_URL,
    provider: 'url',
    'postgres-version': '',
    roundtrip: 'new',
    base: '',
    'fail-on': 'graph,heads,history,upgrade,roundtrip,drift',
    comment: 'on-failure',
    'github-token': gh.token,
    'allow-pull-request-target': 'false',
    'step-timeout': '2m',
    ...inputs,
  };
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    // the second Python stack, when the suite runs on it
    ...(process.env.PYTHONPATH ? { PYTHONPATH: process.env.PYTHONPATH } : {}),
    GITHUB_ACTIONS: 'true',
    CI: 'true',
    GITHUB_EVENT_NAME: 'pull_request',
    GITHUB_EVENT_PATH: join(runDir, 'event.json'),
    GITHUB_REPOSITORY: 'acme/shop',
    GITHUB_API_URL: gh.url,
    GITHUB_SERVER_URL: 'https://github.com',
    GITHUB_RUN_ID: '4242',
    GITHUB_SHA: f.headSha,
    GITHUB_WORKSPACE: f.dir,
    GITHUB_OUTPUT: join(runDir, 'output'),
    GITHUB_STEP_SUMMARY: join(runDir, 'summary'),
    RUNNER_TEMP: runDir,
    // The runner keeps hyphens: INPUT_WORKING-DIRECTORY.
    ...Object.fromEntries(Object.entries(allInputs).map(([k, v]) => [`INPUT_${k.replace(/ /g, '_').toUpperCase()}`, v])),
    ...extraEnv,
  };
  const { code, stdout, stderr } = await new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
    execFile(process.execPath, [join(ROOT, 'dist', 'index.js')], { cwd: f.dir, env, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
  return {
    code,
    stdout,
    stderr,
    outputs: parseOutputs(readFileSync(join(runDir, 'output'), 'utf8')),
    summary: readFileSync(join(runDir, 'summary'), 'utf8'),
  };
}

function parseOutputs(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of text.matchAll(/^([^<\n]+)<<(\S+)\n([\s\S]*?)\n\2$/gm)) out[m[1]!] = m[3]!;
  return out;
}

function ours(): ReturnType<FakeGitHub['commentsOn']> {
  return gh.commentsOn(PR).filter((c) => c.body.startsWith('<!-- alembic-gate:'));
}

function explain(r: ActionResult): string {
  return `exit ${r.code}\n--- stdout\n${r.stdout.slice(-4000)}\n--- stderr\n${r.stderr.slice(-4000)}`;
}

describe('the action on a pull request (dist/index.js, real engine)', () => {
  it('a failing PR gets exactly one comment; a second run updates it; the fixed PR turns it green', async () => {
    const leaky = await fixture('leaky-downgrade');
    const first = await runAction(leaky);
    expect(first.code, explain(first)).toBe(1);
    expect(first.outputs.status).toBe('fail');
    expect(JSON.parse(readFileSync(first.outputs.report!, 'utf8'))).toMatchObject({ schemaVersion: 1, status: 'fail' });
    expect(ours()).toHaveLength(1);
    expect(ours()[0]!.body).toMatch(/❌ alembic-gate: .*roundtrip/);
    expect(ours()[0]!.body.length).toBeLessThan(65_536);
    expect(first.summary).toContain('alembic-gate');
    expect(first.stdout).toMatch(/^::error::alembic-gate: .*roundtrip/m);
    expect(first.stdout).toContain('::group::alembic-gate: base');
    expect(first.stdout.replace(`::add-mask::${gh.token}`, '')).not.toContain(gh.token);

    const second = await runAction(leaky);
    expect(second.code, explain(second)).toBe(1);
    expect(ours()).toHaveLength(1);

    // Same PR, same configuration, migrations fixed.
    const clean = await fixture('clean');
    const third = await runAction(clean);
    expect(third.code, explain(third)).toBe(0);
    expect(third.outputs.status).toBe('pass');
    expect(third.outputs.drift).toBe('false');
    expect(ours()).toHaveLength(1);
    expect(ours()[0]!.body).toContain('✅ alembic-gate: migrations pass');
    expect(gh.writes().map((w) => w.method)).toEqual(['POST', 'PATCH', 'PATCH']);
    expect(gh.commentsOn(PR)).toHaveLength(151);
  });

  it('a passing PR without an earlier comment gets none (on-failure)', async () => {
    const r = await runAction(await fixture('clean'));
    expect(r.code, explain(r)).toBe(0);
    expect(gh.writes()).toHaveLength(0);
    expect(r.summary).toContain('✅ alembic-gate: migrations pass');
  });

  it('two heads fail the heads check with an annotation', async () => {
    const r = await runAction(await fixture('two-heads'));
    expect(r.code, explain(r)).toBe(1);
    expect(r.stdout).toMatch(/^::error::alembic-gate: .*heads/m);
    expect(ours()).toHaveLength(1);
    expect(ours()[0]!.body).toMatch(/`heads`/);
  });

  it('a read-only token (403) degrades to a warning; summary and verdict stay', async () => {
    gh.readOnly = true;
    const r = await runAction(await fixture('leaky-downgrade'));
    expect(r.code, explain(r)).toBe(1);
    expect(r.stdout).toMatch(/::warning::alembic-gate could not comment on pull request #12 \(HTTP 403\)/);
    expect(r.summary).toMatch(/❌ alembic-gate/);
    expect(ours()).toHaveLength(0);
  });

  it('hostile migration messages are neutralized in the comment', async () => {
    const r = await runAction(await fixture('hostile-message'), { comment: 'always' });
    expect([0, 1], explain(r)).toContain(r.code);
    const body = ours()[0]!.body;
    expect(body.length).toBeLessThan(65_536);
    expect(body).not.toContain('<script');
    expect(body.match(/<!-- alembic-gate:/g)).toHaveLength(1);
    // the mention is broken by a zero-width joiner (or sits in code), never a live @octocat
    const withoutCode = body.replace(/(`{3,})[^\n]*\n[\s\S]*?\n\s*\1/g, '').replace(/`+[^`\n]*`+/g, '');
    expect(withoutCode).not.toMatch(/@octocat/);
    for (const line of body.split('\n').filter((l) => l.startsWith('|'))) expect(line.trimEnd().endsWith('|')).toBe(true);
  });

  it("a migration that prints os.environ gets none of the runner's secrets; pass-env variables reach it", async () => {
    const secrets = {
      GITHUB_TOKEN: 'ghs_jobtoken_0123456789',
      ACTIONS_RUNTIME_TOKEN: 'runtime_token_0123456789',
      ACTIONS_ID_TOKEN_REQUEST_TOKEN: 'oidc_request_token_0123456789',
      ACTIONS_ID_TOKEN_REQUEST_URL: 'https://oidc.example/token?x=1',
    };
    const r = await runAction(await fixture('prints-environ'), { comment: 'always', 'pass-env': 'DEPLOY_KEY' }, { ...secrets, DEPLOY_KEY: 'deploy-key-value' });
    expect(r.code, explain(r)).toBe(1);
    expect(r.outputs.status).toBe('fail');
    const report = readFileSync(r.outputs.report!, 'utf8');
    const body = ours()[0]!.body;
    // the migration ran and printed its environment (PATH is there), the pass-env variable reached it
    expect(report).toContain("'PATH':");
    expect(report).toContain('DEPLOY_KEY passed: yes');
    // the pass-env value reached the migration, and what it printed of it is redacted
    expect(report).toContain("'DEPLOY_KEY': '***'");
    expect(report).not.toContain('deploy-key-value');
    expect(body).not.toContain('deploy-key-value');
    // read from the gate's own /proc/<pid>/environ, the tokens are still redacted
    expect(report).toContain('INPUT_GITHUB-TOKEN=***');
    expect(report).toContain('ACTIONS_RUNTIME_TOKEN=***');
    const stdout = r.stdout.replace(/^::add-mask::.*$/gm, '');
    for (const value of [...Object.values(secrets), gh.token]) {
      for (const [where, text] of Object.entries({ report, body, summary: r.summary, stdout, stderr: r.stderr })) {
        expect(text.includes(value), `${value} in ${where}`).toBe(false);
      }
    }
    for (const name of ['INPUT_GITHUB-TOKEN', 'GITHUB_OUTPUT', 'GITHUB_STEP_SUMMARY', 'ACTIONS_RUNTIME_TOKEN']) expect(report).not.toContain(`'${name}'`);
  });

  it('a hostile revision message and error output cannot forge workflow commands or terminal escapes in the log', async () => {
    const r = await runAction(await fixture('hostile-log'), { comment: 'always' });
    expect(r.code, explain(r)).toBe(1);
    const log = `${r.stdout}\n${r.stderr}`;
    expect(log).toContain('pwned'); // the message is in the log, as text
    expect(log).not.toMatch(/^\s*::warning::pwned/m);
    expect(log).not.toContain('\x1b');
    expect(log).not.toContain('\x07');
    expect(r.stdout).toMatch(/^::error.*::.*pwned-error/m); // the annotation keeps it, encoded on one line
  });

  it('refuses pull_request_target without the opt-in', async () => {
    const f = await fixture('clean');
    const runDir = mkdtempSync(join(tmp, 'prt-'));
    writeFileSync(join(runDir, 'e.json'), JSON.stringify({ pull_request: { number: PR, base: { sha: f.baseSha } } }));
    const out = await new Promise<{ code: number; stdout: string }>((resolve) => {
      execFile(
        process.execPath,
        [join(ROOT, 'dist', 'index.js')],
        {
          cwd: f.dir,
          env: {
            PATH: process.env.PATH,
            GITHUB_EVENT_NAME: 'pull_request_target',
            GITHUB_EVENT_PATH: join(runDir, 'e.json'),
            GITHUB_REPOSITORY: 'acme/shop',
            GITHUB_API_URL: gh.url,
            RUNNER_TEMP: runDir,
            'INPUT_GITHUB-TOKEN': gh.token,
          },
        },
        (err, stdout) => resolve({ code: err ? 1 : 0, stdout }),
      );
    });
    expect(out.code).toBe(1);
    expect(out.stdout).toMatch(/refuses to run on pull_request_target/);
  });
});
