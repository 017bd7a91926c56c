// MySQL/MariaDB data directories fresh from their initialisation, cached (src/util/dir-cache.ts):
// mariadb-install-db takes 0.4 s here and MySQL 8's --initialize-insecure several seconds,
// against some 30 ms to copy the result. A data directory depends only on the binaries, the
// options and the users (the files' owner, and the OS user root@localhost logs in as); the run's
// own accounts, password and database are made after the server starts, never cached.
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { dirCacheRoot, fileIdentity, restoreDir, saveDir, type DirCache } from '../../util/dir-cache.js';

export interface DatadirKey {
  server: string;
  /** The initialisation's options, without the run's own paths. */
  args: string[];
  /** Owner of the files, and the OS user the gate's root@localhost is. */
  uid: number;
  gateUser: string;
}

const DATADIR: DirCache = {
  kind: 'mysql-datadir',
  stamp: '.alembic-gate-mysql-init',
  complete: (dir) => {
    try {
      return statSync(join(dir, 'mysql')).isDirectory();
    } catch {
      return false;
    }
  },
};

/** The cache directory, or null when caching is off or there is no usable home. */
export const datadirCacheRoot = (env: NodeJS.ProcessEnv = process.env): string | null => dirCacheRoot(DATADIR.kind, env);

const parts = (key: DatadirKey): unknown[] => [key.server, fileIdentity(key.server), key.args, key.uid, key.gateUser];

/** Copies a cached data directory to `dataDir` (which must not exist); false when there is none. */
export const restoreDatadir = (key: DatadirKey, dataDir: string, root = datadirCacheRoot()): Promise<boolean> => restoreDir(DATADIR, parts(key), dataDir, root);

/** Best effort: keeps a data directory fresh from its initialisation for the next run. Never throws. */
export const saveDatadir = (key: DatadirKey, dataDir: string, root = datadirCacheRoot()): Promise<void> => saveDir(DATADIR, parts(key), dataDir, root);
