import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BaseError, chooseBase, resolveBase } from '../../src/action/base.js';

const A = 'a'.repeat(40);
const B = 'b'.repeat(40);
const repository = { default_branch: 'trunk' };
const no = { allowPullRequestTarget: false };

describe('chooseBase', () => {
  it.each([
    ['pull_request', { pull_request: { base: { sha: A, ref: 'trunk' } }, repository }, no, { kind: 'commit', sha: A }],
    ['merge_group', { merge_group: { base_sha: B }, repository }, no, { kind: 'commit', sha: B }],
    ['push', { before: A, repository }, no, { kind: 'commit', sha: A }],
    ['push', { before: '0'.repeat(40), repository }, no, { kind: 'ref', ref: 'trunk' }],
    ['workflow_dispatch', { repository }, no, { kind: 'ref', ref: 'trunk' }],
    ['workflow_dispatch', { repository }, { ...no, base: 'release/1.x' }, { kind: 'ref', ref: 'release/1.x' }],
    ['workflow_dispatch', { repository }, { ...no, base: B }, { kind: 'commit', sha: B }],
    ['schedule', {}, no, { kind: 'ref', ref: 'main' }],
    ['pull_request_target', { pull_request: { base: { sha: A } } }, { allowPullRequestTarget: true }, { kind: 'commit', sha: A }],
  ] as const)('%s %o %o', (event, payload, inputs, expected) => {
    expect(chooseBase(event, payload, inputs)).toMatchObject(expected);
  });

  it('refuses pull_request_target unless allowed, and says why', () => {
    const d = chooseBase('pull_request_target', { pull_request: { base: { sha: A } } }, no);
    expect(d.kind).toBe('refuse');
    expect(d.kind === 'refuse' && d.message).toMatch(/allow-pull-request-target: true/);
    expect(d.kind === 'refuse' && d.message).toMatch(/fork/);
  });
});

describe('resolveBase', () => {
  let dir: string;
  let first: string;
  let second: string;
  const sh = (cwd: string, ...args: string[]): string =>
    execFileSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@example.com', '-c', 'init.defaultBranch=main', ...args], {
      cwd,
      encoding: 'utf8',
    }).trim();

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'ag-base-'));
    const origin = join(dir, 'origin');
    execFileSync('mkdir', ['-p', origin]);
    sh(origin, 'init', '-q');
    writeFileSync(join(origin, 'a.txt'), '1');
    sh(origin, 'add', '.');
    sh(origin, 'commit', '-qm', 'first');
    first = sh(origin, 'rev-parse', 'HEAD');
    writeFileSync(join(origin, 'a.txt'), '2');
    sh(origin, 'commit', '-qam', 'second');
    second = sh(origin, 'rev-parse', 'HEAD');
    // what actions/checkout does by default: one commit
    sh(dir, 'clone', '-q', '--depth=1', `file://${origin}`, 'clone');
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('uses a commit that is present', async () => {
    expect(await resolveBase(join(dir, 'clone'), { kind: 'commit', sha: second, why: 't' })).toBe(second);
  });
  it('fetches a base commit the shallow clone lacks', async () => {
    const clone = join(dir, 'clone');
    expect(() => sh(clone, 'cat-file', '-e', `${first}^{commit}`)).toThrow();
    expect(await resolveBase(clone, { kind: 'commit', sha: first, why: 't' })).toBe(first);
  });
  it('resolves a branch name', async () => {
    expect(await resolveBase(join(dir, 'clone'), { kind: 'ref', ref: 'main', why: 't' })).toBe(second);
  });
  it('says to set fetch-depth: 0 when the commit cannot be had', async () => {
    const p = resolveBase(join(dir, 'clone'), { kind: 'commit', sha: 'c'.repeat(40), why: 't' });
    await expect(p).rejects.toBeInstanceOf(BaseError);
    await expect(p).rejects.toThrow(/fetch-depth: 0/);
  });
});
