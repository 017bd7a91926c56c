// The watchdog for a gate that dies without running its cleanups (SIGKILL, the OOM killer, a
// runner that kills the job's main process). One small detached Node process per gate run
// (dist/sentinel.js) holds a list of what the gate owns right now: server and worker pids,
// temp dirs, databases and roles on a shared server. The gate keeps the list current over the
// sentinel's stdin; when that pipe closes with entries still listed, the gate is gone without
// cleaning up, and the sentinel does it: stops the pids' process trees, removes the dirs, drops
// the databases and roles. A normal exit empties the list first, and the sentinel just exits.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { MysqlDropList } from '../engines/mysql/leftovers.js';
import type { PostgresqlDropList } from '../engines/postgresql/leftovers.js';

export interface SentinelEntry {
  /** Processes to end, each with the signal to send first (SIGKILL follows after a grace). */
  pids?: { pid: number; signal: NodeJS.Signals; tree?: boolean }[];
  dirs?: string[];
  /** Databases and roles to drop through `admin` (PostgreSQL). */
  drop?: PostgresqlDropList;
  /** Databases and users to drop on a MySQL/MariaDB server (the list names its engine). */
  mysqlDrop?: MysqlDropList;
}

export interface SentinelHandle {
  update(entry: SentinelEntry): void;
  remove(): void;
}

let child: ChildProcess | null | undefined;
let nextId = 1;
const NOOP: SentinelHandle = { update: () => {}, remove: () => {} };

/** dist/sentinel.js beside the bundle, or the built one when running from src/. */
export function sentinelScriptPath(): string | undefined {
  const here = dirname(fileURLToPath(import.meta.url));
  return [join(here, 'sentinel.js'), join(here, '..', '..', 'dist', 'sentinel.js')].find((p) => existsSync(p));
}

function start(): ChildProcess | null {
  if (process.env.ALEMBIC_GATE_SENTINEL === 'off') return null;
  const script = sentinelScriptPath();
  if (!script) return null;
  try {
    const proc = spawn(process.execPath, [script], {
      // Its own process group: a Ctrl-C meant for the gate does not reach it; the gate cleans
      // up after a signal itself and then closes the pipe with nothing listed.
      detached: true,
      stdio: ['pipe', 'ignore', 'ignore'],
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', LANG: 'C' },
    });
    proc.on('error', () => {
      child = null;
    });
    proc.stdin!.on('error', () => {});
    proc.unref();
    (proc.stdin as unknown as { unref?: () => void }).unref?.();
    return proc;
  } catch {
    return null;
  }
}

function send(msg: object): void {
  if (!child || child.exitCode !== null || !child.stdin || child.stdin.destroyed) return;
  child.stdin.write(JSON.stringify(msg) + '\n');
}

/** Lists `entry` with the sentinel; keep it current with update(), and remove() it once cleaned up. */
export function watchOver(entry: SentinelEntry): SentinelHandle {
  if (child === undefined) child = start();
  if (!child) return NOOP;
  const id = nextId++;
  send({ op: 'set', id, entry });
  return {
    update: (e) => send({ op: 'set', id, entry: e }),
    remove: () => send({ op: 'remove', id }),
  };
}
