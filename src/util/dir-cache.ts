// A cache of freshly initialised server data directories (PostgreSQL's initdb, MariaDB's
// mariadb-install-db, MySQL's --initialize-insecure): initialisation is most of a local server's
// start-up, and its output depends only on the binaries, the options and the users, all of which
// make the key. The first run fills the cache; later runs copy it. ALEMBIC_GATE_CACHE_DIR moves
// the cache (`off` disables it).
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';

/** The cache directory for `kind` ("initdb", "mysql-datadir"), or null when caching is off or there is no usable home. */
export function dirCacheRoot(kind: string, env: NodeJS.ProcessEnv = process.env): string | null {
  const setting = env.ALEMBIC_GATE_CACHE_DIR;
  if (setting === 'off' || setting === '0') return null;
  if (setting) return join(setting, kind);
  const base = env.XDG_CACHE_HOME || (homedir() ? join(homedir(), '.cache') : '');
  return base ? join(base, 'alembic-gate', kind) : null;
}

/**
 * `cp -a` (modes and ownership kept: a data directory stays the server user's, mode 0700), or
 * with `hardLinks` `cp -al` (files linked, not copied: instant, on one file system only).
 */
export function copyTree(from: string, to: string, opts: { hardLinks?: boolean } = {}): Promise<boolean> {
  return new Promise((resolve) => {
    const p = spawn('cp', [opts.hardLinks ? '-al' : '-a', from, to], { stdio: 'ignore' });
    p.once('error', () => resolve(false));
    p.once('close', (code) => resolve(code === 0));
  });
}

/** The size and time of a file (a server binary), for a key: a new build is a new entry. */
export function fileIdentity(path: string): string {
  try {
    const st = statSync(path);
    return `${st.size}:${st.mtimeMs}`;
  } catch {
    return ''; // a missing binary fails later, with its own message
  }
}

export interface DirCache {
  /** The cache's folder under the cache root. */
  kind: string;
  /** The file written last into an entry (its key): an entry without it is incomplete. */
  stamp: string;
  /** The files the server needs first are there. */
  complete(dir: string): boolean;
}

const keyOf = (parts: unknown[]): string => createHash('sha256').update(JSON.stringify(parts)).digest('hex').slice(0, 20);

function entryComplete(cache: DirCache, dir: string, key: string): boolean {
  try {
    return readFileSync(join(dir, cache.stamp), 'utf8') === key && cache.complete(dir);
  } catch {
    return false;
  }
}

/** Copies a cached data directory to `dataDir` (which must not exist); false when there is none. */
export async function restoreDir(cache: DirCache, parts: unknown[], dataDir: string, root = dirCacheRoot(cache.kind)): Promise<boolean> {
  if (!root) return false;
  const k = keyOf(parts);
  const cached = join(root, k);
  if (!entryComplete(cache, cached, k)) return false;
  if (await copyTree(cached, dataDir)) {
    await rm(join(dataDir, cache.stamp), { force: true });
    return true;
  }
  await rm(dataDir, { recursive: true, force: true });
  return false;
}

/** Best effort: keeps a data directory fresh from its initialisation for the next run. Never throws. */
export async function saveDir(cache: DirCache, parts: unknown[], dataDir: string, root = dirCacheRoot(cache.kind)): Promise<void> {
  if (!root) return;
  const k = keyOf(parts);
  const target = join(root, k);
  const partial = `${target}.partial-${process.pid}`;
  try {
    await mkdir(root, { recursive: true, mode: 0o700 });
    await rm(target, { recursive: true, force: true }); // a damaged entry is replaced
    if (!(await copyTree(dataDir, partial))) throw new Error('copy failed');
    await writeFile(join(partial, cache.stamp), k);
    await rename(partial, target);
  } catch {
    await rm(partial, { recursive: true, force: true }).catch(() => {});
  }
}
