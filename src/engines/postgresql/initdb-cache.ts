// PostgreSQL's initdb output, cached (src/util/dir-cache.ts): initdb is most of a local cluster's
// start-up (1.2-1.6 s here, against 0.3 s to copy its result), and its output depends only on the
// binaries, the options and the user that owns the files.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { dirCacheRoot, fileIdentity, restoreDir, saveDir, type DirCache } from '../../util/dir-cache.js';

export { copyTree } from '../../util/dir-cache.js';

export interface InitdbKey {
  binDir: string;
  args: string[];
  /** Owner of the files (the server refuses a data directory it does not own). */
  uid: number;
}

const INITDB: DirCache = {
  kind: 'initdb',
  stamp: '.alembic-gate-initdb',
  complete: (dir) => existsSync(join(dir, 'PG_VERSION')) && existsSync(join(dir, 'global', 'pg_control')),
};

/** The cache directory, or null when caching is off or there is no usable home. */
export const initdbCacheRoot = (env: NodeJS.ProcessEnv = process.env): string | null => dirCacheRoot(INITDB.kind, env);

const parts = (key: InitdbKey): unknown[] => [key.binDir, fileIdentity(join(key.binDir, 'postgres')), key.args, key.uid];

/** Copies a cached data directory to `dataDir` (which must not exist); false when there is none. */
export const restoreDataDir = (key: InitdbKey, dataDir: string, root = initdbCacheRoot()): Promise<boolean> => restoreDir(INITDB, parts(key), dataDir, root);

/** Best effort: stores a data directory fresh from initdb for the next run. Never throws. */
export const saveDataDir = (key: InitdbKey, dataDir: string, root = initdbCacheRoot()): Promise<void> => saveDir(INITDB, parts(key), dataDir, root);
