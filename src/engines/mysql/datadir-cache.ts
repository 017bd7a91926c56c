// A cache of freshly initialised MySQL/MariaDB data directories, as PostgreSQL's initdb cache
// (../postgresql/initdb-cache.ts) keeps its clusters': mariadb-install-db takes 0.4 s here and
// MySQL 8's --initialize-insecure several seconds, against some 30 ms to copy the result. A data
// directory depends only on the binaries, the options and the users (the files' owner, and the
// OS user root@localhost logs in as); the run's own accounts, password and database are made
// after the server starts, never cached. ALEMBIC_GATE_CACHE_DIR moves the cache (`off` disables it).
import { createHash } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { copyTree, initdbCacheRoot } from '../postgresql/initdb-cache.js';

const STAMP = '.alembic-gate-mysql-init';

export interface DatadirKey {
  server: string;
  /** The initialisation's options, without the run's own paths. */
  args: string[];
  /** Owner of the files, and the OS user the gate's root@localhost is. */
  uid: number;
  gateUser: string;
}

/** The cache directory, or null when caching is off or there is no usable home. */
export function datadirCacheRoot(env: NodeJS.ProcessEnv = process.env): string | null {
  const initdb = initdbCacheRoot(env);
  return initdb ? join(dirname(initdb), 'mysql-datadir') : null;
}

function keyOf(key: DatadirKey): string {
  let binary = '';
  try {
    const st = statSync(key.server);
    binary = `${st.size}:${st.mtimeMs}`;
  } catch {
    // a missing binary fails later with its own message
  }
  return createHash('sha256').update(JSON.stringify([key.server, binary, key.args, key.uid, key.gateUser])).digest('hex').slice(0, 20);
}

function complete(dir: string, key: string): boolean {
  try {
    return readFileSync(join(dir, STAMP), 'utf8') === key && statSync(join(dir, 'mysql')).isDirectory();
  } catch {
    return false;
  }
}

/** Copies a cached data directory to `dataDir` (which must not exist); false when there is none. */
export async function restoreDatadir(key: DatadirKey, dataDir: string, root = datadirCacheRoot()): Promise<boolean> {
  if (!root) return false;
  const k = keyOf(key);
  const cached = join(root, k);
  if (!complete(cached, k)) return false;
  if (await copyTree(cached, dataDir)) {
    await rm(join(dataDir, STAMP), { force: true });
    return true;
  }
  await rm(dataDir, { recursive: true, force: true });
  return false;
}

/** Best effort: keeps a data directory fresh from its initialisation for the next run. Never throws. */
export async function saveDatadir(key: DatadirKey, dataDir: string, root = datadirCacheRoot()): Promise<void> {
  if (!root) return;
  const k = keyOf(key);
  const target = join(root, k);
  const partial = `${target}.partial-${process.pid}`;
  try {
    await mkdir(root, { recursive: true, mode: 0o700 });
    await rm(target, { recursive: true, force: true }); // a damaged entry is replaced
    if (!(await copyTree(dataDir, partial))) throw new Error('copy failed');
    await writeFile(join(partial, STAMP), k);
    await rename(partial, target);
  } catch {
    await rm(partial, { recursive: true, force: true }).catch(() => {});
  }
}
