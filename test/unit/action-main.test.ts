// The action's pipeline in-process (src/main.ts run()), with a constructed report instead of the
// engine and the fake GitHub instead of api.github.com: comments, summary, outputs, annotations,
// exit code. The end-to-end version with the real engine is test/integration/action.test.ts.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { FakeGitHub } from '../helpers/fake-github.js';
import { failingReport, hostileReport, hugeReport, passingReport } from '../helpers/sample-reports.js';
import { run } from '../../src/main.js';
import type { GateOptions } from '../../src/engine/options.js';
import type { Report } from '../../src/report/types.js';

let dir: string;
let repo: string;
let baseSha: string;
let headSha: string;
let gh: FakeGitHub;
const savedEnv = { ...process.env };

function git(...args: string[]): string {
  return execFileSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@example.com', ...args], { cwd: repo, encoding: 'utf8' }).trim();
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'ag-main-'));
  repo = join(dir, 'repo');
  execFileSync('git', ['init', '-q', repo]);
  writeFileSync(join(repo, 'alembic.ini'), '[alembic]\n');
  git('add', '.');
  git('commit', '-qm', 'base');
  baseSha = git('rev-parse', 'HEAD');
  writeFileSync(join(repo, 'x.py'), '# head\n');
  git('add', '.');
  git('commit', '-qm', 'head');
  headSha = git('rev-parse', 'HEAD');
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

beforeEach(async () => {
  gh = new FakeGitHub();
  await gh.start();
  for (let i = 0; i < 150; i++) gh.seed(7, `comment ${i} by someone else`, `user${i % 3}`);
});
afterEach(async () => {
  await gh.stop();
  process.env = { ...savedEnv };
  process.exitCode = undefined;
  vi.restoreAllMocks();
});

interface ActionRun {
  stdout: string;
  exitCode: number;
  outputs: Record<string, string>;
  summary: string;
  options?: GateOptions;
}

async function runAction(report: Report | (() => Promise<Report>), inputs: Record<string, string> = {}, eventName = 'pull_request'): Promise<ActionRun> {
  const runDir = mkdtempSync(join(dir, 'run-'));
  const event = {
    pull_request: { number: 7, base: { sha: baseSha, ref: 'main' }, head: { sha: headSha, ref: 'feature' } },
    repository: { default_branch: 'main', full_name: 'acme/shop' },
  };
  writeFileSync(join(runDir, 'event.json'), JSON.stringify(event));
  writeFileSync(join(runDir, 'output'), '');
  // @actions/core remembers the summary file of its first use: one file, emptied per run.
  const summaryFile = join(dir, 'step-summary');
  writeFileSync(summaryFile, '');
  process.env = {
    ...savedEnv,
    GITHUB_EVENT_NAME: eventName,
    GITHUB_EVENT_PATH: join(runDir, 'event.json'),
    GITHUB_REPOSITORY: 'acme/shop',
    GITHUB_API_URL: gh.url,
    GITHUB_SERVER_URL: 'https://github.com',
    GITHUB_RUN_ID: '42',
    GITHUB_SHA: headSha,
    GITHUB_WORKSPACE: repo,
    GITHUB_OUTPUT: join(runDir, 'output'),
    GITHUB_STEP_SUMMARY: summaryFile,
    RUNNER_TEMP: runDir,
    'INPUT_WORKING-DIRECTORY': repo,
    'INPUT_GITHUB-TOKEN': gh.token,
    'INPUT_FAIL-ON': 'graph,heads,history,upgrade,roundtrip,drift',
    INPUT_COMMENT: 'on-failure',
    ...Object.fromEntries(Object.entries(inputs).map(([k, v]) => [`INPUT_${k.toUpperCase()}`, v])),
  };
  let stdout = '';
  vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    stdout += String(chunk);
    return true;
  });
  let options: GateOptions | undefined;
  process.exitCode = undefined;
  await run({
    runGate: async (o) => {
      options = o;
      return typeof report === 'function' ? report() : report;
    },
  });
  vi.restoreAllMocks();
  const exitCode = Number(process.exitCode ?? 0);
  process.exitCode = undefined;
  return { stdout, exitCode, outputs: parseOutputs(readFileSync(join(runDir, 'output'), 'utf8')), summary: readFileSync(summaryFile, 'utf8'), options };
}

function parseOutputs(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  const re = /^([^<\n]+)<<(\S+)\n([\s\S]*?)\n\2$/gm;
  for (const m of text.matchAll(re)) out[m[1]!] = m[3]!;
  return out;
}

const ours = (): ReturnType<FakeGitHub['commentsOn']> => gh.commentsOn(7).filter((c) => c.body.startsWith('<!-- alembic-gate:'));

describe('action pipeline (constructed reports)', () => {
  it('a failing PR gets exactly one comment, outputs, annotations, summary and a failed job', async () => {
    const r = await runAction(failingReport());
    expect(r.exitCode).toBe(1);
    expect(ours()).toHaveLength(1);
    expect(ours()[0]!.body).toContain('❌ alembic-gate: 4 checks failed');
    expect(ours()[0]!.body).toContain(`https://github.com/acme/shop/blob/${headSha}/migrations/versions/`);
    expect(r.outputs.status).toBe('fail');
    expect(r.outputs.drift).toBe('true');
    expect(JSON.parse(readFileSync(r.outputs.report!, 'utf8')).status).toBe('fail');
    expect(r.summary).toContain('The `upgrade()` that `alembic revision --autogenerate` would write:');
    expect(r.stdout).toContain('::error title=alembic-gate roundtrip (0f9e8d7c6b5a),file=migrations/versions/0f9e8d7c6b5a_add_users_nickname.py,line=24::');
    expect(r.stdout.match(/^::error::/gm)).toHaveLength(1); // one setFailed
    expect(r.stdout).toMatch(/::error::alembic-gate: 4 checks failed\. heads/);
    expect(r.stdout).toContain('::group::alembic-gate: base');
    expect(r.stdout.replace(`::add-mask::${gh.token}`, '')).not.toContain(gh.token);
    expect(r.options).toMatchObject({ base: baseSha, repoRoot: repo, alembicConfig: 'alembic.ini', provider: 'auto', roundtrip: 'new' });
  });

  it('a second run updates the comment; a fixed PR turns it green', async () => {
    await runAction(failingReport());
    await runAction(failingReport());
    expect(ours()).toHaveLength(1);
    const pass = await runAction(passingReport());
    expect(pass.exitCode).toBe(0);
    expect(ours()).toHaveLength(1);
    expect(ours()[0]!.body).toContain('✅ alembic-gate: migrations pass');
    expect(gh.writes().map((w) => w.method)).toEqual(['POST', 'PATCH', 'PATCH']);
    expect(gh.commentsOn(7)).toHaveLength(151);
  });

  it('does not comment on a pass without an earlier comment (on-failure), but does with always', async () => {
    expect((await runAction(passingReport())).exitCode).toBe(0);
    expect(gh.writes()).toHaveLength(0);
    await runAction(passingReport(), { comment: 'always' });
    expect(ours()).toHaveLength(1);
    await runAction(failingReport(), { comment: 'never' });
    expect(gh.writes()).toHaveLength(1);
  });

  it('fail-on decides which failures fail the job', async () => {
    const r = await runAction(failingReport(), { 'fail-on': 'upgrade' });
    expect(r.exitCode).toBe(0);
    expect(r.options?.failOn).toEqual(['upgrade']);
  });

  it('a 403 on commenting degrades to a warning; the verdict still decides', async () => {
    gh.readOnly = true;
    const r = await runAction(failingReport());
    expect(r.exitCode).toBe(1);
    expect(r.stdout).toMatch(/::warning::alembic-gate could not comment on pull request #7 \(HTTP 403\)/);
    expect(r.summary).toContain('❌ alembic-gate');
    expect(r.stdout).toContain('::error title=alembic-gate');
    const pass = await runAction(passingReport(), { comment: 'always' });
    expect(pass.exitCode).toBe(0);
  });

  it('a huge report is trimmed under 65,536 characters in the comment but not in the summary', async () => {
    await runAction(hugeReport());
    const body = ours()[0]!.body;
    expect(body.length).toBeLessThan(65_536);
    expect(body).toMatch(/Report truncated|Some detail was left out/);
    expect(body).toContain('[job summary](https://github.com/acme/shop/actions/runs/42)');
  });

  it('hostile migration messages are neutralized in the comment', async () => {
    await runAction(hostileReport());
    const body = ours()[0]!.body;
    expect(body).not.toContain('<script');
    expect(body.match(/<!-- alembic-gate:/g)).toHaveLength(1);
    expect(body).toContain('@\u200doctocat');
  });

  it('a crashing engine still produces an error report, summary and comment', async () => {
    const r = await runAction(async () => {
      throw new Error('worker died');
    });
    expect(r.exitCode).toBe(1);
    expect(r.outputs.status).toBe('error');
    expect(r.summary).toContain('worker died');
    expect(ours()[0]!.body).toContain('⚠️ alembic-gate');
  });

  it('refuses pull_request_target unless allowed', async () => {
    const r = await runAction(passingReport(), {}, 'pull_request_target');
    expect(r.exitCode).toBe(1);
    expect(r.stdout).toMatch(/::error::.*alembic-gate refuses to run on pull_request_target.*allow-pull-request-target: true/);
    expect(r.options).toBeUndefined();
    const ok = await runAction(passingReport(), { 'allow-pull-request-target': 'true' }, 'pull_request_target');
    expect(ok.exitCode).toBe(0);
  });

  it('a bad input fails with a message naming it, before anything runs', async () => {
    const r = await runAction(passingReport(), { roundtrip: 'sometimes' });
    expect(r.exitCode).toBe(1);
    expect(r.stdout).toContain("::error::Input 'roundtrip': 'sometimes' is not one of new, all, none.");
    expect(r.options).toBeUndefined();
    expect(r.outputs.status).toBe('error');
  });
});
