// Builds a throwaway git repository from layered directories: a `main` commit, then a `pr`
// branch on top (optionally main moves on after the branch was cut). Used by the demo command
// (examples/demo.mjs) and by the tests.
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const projectRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');

const git = (cwd, ...args) =>
  execFileSync('git', args, {
    cwd,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, GIT_AUTHOR_NAME: 'fixture', GIT_AUTHOR_EMAIL: 'fixture@example.com', GIT_COMMITTER_NAME: 'fixture', GIT_COMMITTER_EMAIL: 'fixture@example.com', GIT_AUTHOR_DATE: '2026-11-01T10:00:00Z', GIT_COMMITTER_DATE: '2026-11-01T10:00:00Z' },
  })
    .toString()
    .trim();

function overlay(layers, dest) {
  for (const layer of layers) cpSync(resolve(projectRoot, layer), dest, { recursive: true, filter: (src) => !src.includes('__pycache__') });
}

function remove(paths, dest) {
  for (const p of paths ?? []) rmSync(join(dest, p), { recursive: true, force: true });
}

/**
 * spec: { base: [dir...], pr: [dir...], prDelete?: [path...], mainAfter?: [dir...] } (dirs relative to the project root)
 * Returns { dir, baseSha, headSha, cleanup() }. The checkout is left on the `pr` branch.
 */
export function makeRepo(spec) {
  const dir = mkdtempSync(join(tmpdir(), 'alembic-gate-fixture-'));
  git(dir, 'init', '-q', '-b', 'main');
  overlay(spec.base, dir);
  git(dir, 'add', '-A');
  git(dir, 'commit', '-q', '--allow-empty', '-m', 'base');
  git(dir, 'checkout', '-q', '-b', 'pr');
  overlay(spec.pr ?? [], dir);
  remove(spec.prDelete, dir);
  git(dir, 'add', '-A');
  git(dir, 'commit', '-q', '--allow-empty', '-m', 'pull request');
  const headSha = git(dir, 'rev-parse', 'HEAD');
  if (spec.mainAfter?.length) {
    git(dir, 'checkout', '-q', 'main');
    overlay(spec.mainAfter, dir);
    git(dir, 'add', '-A');
    git(dir, 'commit', '-q', '-m', 'main moves on');
    git(dir, 'checkout', '-q', 'pr');
  }
  const baseSha = git(dir, 'rev-parse', 'main');
  return { dir, baseSha, headSha, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** A named fixture: test/fixtures/<name>/fixture.json, or by default the shop example as base and <name>/pr on top. */
export function makeFixtureRepo(name) {
  const root = join('test', 'fixtures', name);
  const specPath = resolve(projectRoot, root, 'fixture.json');
  const spec = existsSync(specPath) ? JSON.parse(readFileSync(specPath, 'utf8')) : {};
  const rel = (p) => (p.startsWith('./') ? join(root, p.slice(2)) : p);
  return makeRepo({
    base: (spec.base ?? ['examples/shop/base']).map(rel),
    pr: (spec.pr ?? ['./pr']).map(rel),
    prDelete: spec.prDelete,
    mainAfter: spec.mainAfter?.map(rel),
  });
}
