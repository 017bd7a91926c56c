// Test fixtures as git repositories: a thin typed wrapper around scripts/fixture-repo.mjs.
// makeFixtureRepo('<name>') builds test/fixtures/<name> (see its fixture.json, or the shop
// example as base with <name>/pr on top) into a temp repository checked out on `pr`.
import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { FixtureRepoModule, FixtureSpec } from './fixture-repo-mjs.js';

export type { FixtureSpec } from './fixture-repo-mjs.js';

export const projectRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

export interface FixtureRepo {
  /** The repository (checked out on the `pr` branch). */
  dir: string;
  /** `main`: the base, including commits made after the PR branched (mainAfter). */
  baseSha: string;
  /** The tip of the `pr` branch. */
  headSha: string;
  cleanup(): Promise<void>;
}

let loaded: Promise<FixtureRepoModule> | null = null;
function fixtureModule(): Promise<FixtureRepoModule> {
  const href = pathToFileURL(resolve(projectRoot, 'scripts', 'fixture-repo.mjs')).href;
  loaded ??= import(href) as Promise<FixtureRepoModule>;
  return loaded;
}

function wrap(repo: { dir: string; baseSha: string; headSha: string }): FixtureRepo {
  return {
    dir: repo.dir,
    baseSha: repo.baseSha,
    headSha: repo.headSha,
    cleanup: () => rm(repo.dir, { recursive: true, force: true }),
  };
}

export async function makeFixtureRepo(name: string): Promise<FixtureRepo> {
  const root = resolve(projectRoot, 'test', 'fixtures', name);
  if (!existsSync(root)) throw new Error(`no fixture test/fixtures/${name}`);
  return wrap((await fixtureModule()).makeFixtureRepo(name));
}

/** A repository from explicit layers (paths relative to the project root). */
export async function makeRepo(spec: FixtureSpec): Promise<FixtureRepo> {
  return wrap((await fixtureModule()).makeRepo(spec));
}
