// `local` provider: MariaDB or MySQL server binaries already on the machine (mariadbd or
// mysqld), run as a throwaway server in a temp dir: MariaDB's data directory made by
// mariadb-install-db, MySQL's by `mysqld --initialize-insecure` (both cached: datadir-cache.ts). It listens on a unix socket in
// that dir for the gate (root, no TCP login) and on 127.0.0.1 for the project's code (a user
// with a per-run password); it trades durability for speed and is removed on dispose, failure
// and signals (the watchdog does it if the gate is killed outright).
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { accessSync, closeSync, constants, existsSync, openSync, readFileSync } from 'node:fs';
import { chown, mkdtemp, readFile } from 'node:fs/promises';
import { userInfo } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { scratchDir } from '../../util/scratch.js';
import { OwnedServer, freePort, runTool, tail as tailOf } from '../../util/owned-server.js';
import { clusterParent, unprivilegedUser, type RunAs } from '../../util/run-as.js';
import type { DatabaseEngine } from '../engine.js';
import { restoreDatadir, saveDatadir } from './datadir-cache.js';
import { account, connect, identifiedBy, quoteIdent, rows, serverFacts, text, withConnection, type Flavor, type MysqlConnection } from './client.js';
import { MysqlServer } from './server.js';

export const GATE_DATABASE = 'alembic_gate';
const READY_TIMEOUT_MS = 30_000;
const STOP_TIMEOUT_MS = 5_000;
const INIT_TIMEOUT_MS = 120_000;

export interface MysqlBinaries {
  /** mariadbd or mysqld. */
  server: string;
  flavor: Flavor;
  /** "10.11.19", "8.0.39". */
  version: string;
  /** MariaDB's mariadb-install-db (mysql_install_db before 10.4); MySQL initialises with the server itself. */
  installDb?: string;
}

/** Directories that may hold the server, most preferred first (lazy: PATH usually has it). */
function* candidateDirs(): Generator<string> {
  const seen = new Set<string>();
  for (const dir of [...(process.env.PATH ?? '').split(delimiter), '/usr/sbin', '/usr/libexec', '/usr/local/mysql/bin', '/usr/local/sbin', '/usr/local/bin', '/opt/homebrew/bin']) {
    if (dir && !seen.has(dir)) {
      seen.add(dir);
      yield dir;
    }
  }
}

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** The version a server binary reports, or undefined if it does not run. */
export function probeServer(server: string): Omit<MysqlBinaries, 'installDb'> | undefined {
  try {
    const out = execFileSync(server, ['--no-defaults', '--version'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 10_000 });
    const m = /\bVer\s+(\d+\.\d+\.\d+)/.exec(out);
    if (!m) return undefined;
    return { server, flavor: /mariadb/i.test(out) ? 'mariadb' : 'mysql', version: m[1]! };
  } catch {
    return undefined;
  }
}

function findInstallDb(server: string): string | undefined {
  const prefix = dirname(dirname(server));
  const dirs = [dirname(server), join(prefix, 'bin'), join(prefix, 'scripts'), ...(process.env.PATH ?? '').split(delimiter), '/usr/bin'];
  for (const dir of dirs) for (const name of ['mariadb-install-db', 'mysql_install_db']) if (dir && isExecutable(join(dir, name))) return join(dir, name);
  return undefined;
}

/** The first MariaDB or MySQL server on the machine. Throws with where it looked. */
export function findMysqlBinaries(): MysqlBinaries {
  const dirs: string[] = [];
  for (const dir of candidateDirs()) {
    dirs.push(dir);
    for (const name of ['mariadbd', 'mysqld']) {
      const path = join(dir, name);
      if (!isExecutable(path)) continue;
      const found = probeServer(path);
      if (!found) continue;
      if (found.flavor === 'mysql') return found;
      const installDb = findInstallDb(path);
      if (installDb) return { ...found, installDb };
    }
  }
  throw new Error(
    'no MariaDB or MySQL server binaries (mariadbd, or mysqld; MariaDB also needs mariadb-install-db) found on PATH, in /usr/sbin, /usr/libexec or /usr/local/mysql/bin: install one (e.g. apt-get install mariadb-server)',
  );
}

const versionAtLeast = (version: string, ...min: number[]): boolean => {
  const parts = version.split('.').map(Number);
  for (let i = 0; i < min.length; i++) {
    const p = parts[i] ?? 0;
    if (p !== min[i]) return p > min[i]!;
  }
  return true;
};

/**
 * The server's user when we are root (MariaDB and MySQL refuse to run as root without
 * --user): the `mysql` account when there is one, else the one the PostgreSQL clusters use.
 */
export function serverUser(): RunAs | undefined {
  if (process.getuid?.() !== 0) return undefined;
  try {
    for (const line of readFileSync('/etc/passwd', 'utf8').split('\n')) {
      const [name, , uid, gid] = line.split(':');
      if (name === 'mysql' && Number(uid) !== 0) return { name, uid: Number(uid), gid: Number(gid) };
    }
  } catch {
    // fall through
  }
  try {
    return unprivilegedUser();
  } catch {
    throw new Error('running as root, and MySQL/MariaDB refuse to run as root; no unprivileged "mysql" or "nobody" user exists in /etc/passwd to run it as. Run as a normal user or create a "mysql" user');
  }
}

/** Options that make a throwaway server fast: nothing here has to survive a crash. */
function fastOptions(bins: MysqlBinaries): string[] {
  const opts = [
    '--skip-name-resolve',
    '--skip-log-bin',
    '--sync-binlog=0',
    '--innodb-flush-log-at-trx-commit=0',
    '--innodb-doublewrite=OFF',
    '--innodb-buffer-pool-size=32M',
    '--innodb-buffer-pool-load-at-startup=OFF',
    '--innodb-buffer-pool-dump-at-shutdown=OFF',
    '--performance-schema=OFF',
    '--character-set-server=utf8mb4',
  ];
  if (bins.flavor === 'mysql' && versionAtLeast(bins.version, 8, 0, 30)) opts.push('--innodb-redo-log-capacity=8M');
  else opts.push('--innodb-log-file-size=8M');
  if (bins.flavor === 'mysql') {
    // No X Protocol listener (it takes port 33060, which two servers would fight over); on
    // 8.4 the mysql_native_password plugin is off unless asked for (see identifiedBy).
    opts.push('--loose-mysqlx=OFF');
    if (versionAtLeast(bins.version, 8, 4) && !versionAtLeast(bins.version, 9)) opts.push('--mysql-native-password=ON');
  }
  return opts;
}

export interface LocalOptions {
  log?: (msg: string) => void;
  /** Where the server's temp dir goes (default: the gate's scratch dir, as PostgreSQL's clusters). */
  parentDir?: string;
}

export async function provisionLocal(engine: DatabaseEngine, opts: LocalOptions = {}): Promise<MysqlServer> {
  const bins = findMysqlBinaries();
  return startServer(engine, bins, opts);
}

export async function startServer(engine: DatabaseEngine, bins: MysqlBinaries, opts: LocalOptions = {}): Promise<MysqlServer> {
  const log = opts.log ?? (() => {});
  const started = Date.now();
  const runAs = serverUser();
  const tempDir = await mkdtemp(join(clusterParent(runAs, opts.parentDir ?? scratchDir()), 'alembic-gate-mysql-'));
  const dataDir = join(tempDir, 'data');
  const socket = join(tempDir, 'mysql.sock');
  const logFile = join(tempDir, 'server.log');
  let child: ChildProcess | undefined;
  // SIGTERM: a normal shutdown, quick for a server that holds nothing; also on the way out.
  const owned = new OwnedServer({ tempDir, stopSignal: 'SIGTERM', exitSignal: 'SIGTERM', stopTimeoutMs: STOP_TIMEOUT_MS });
  const stop = (): Promise<void> => owned.stop();
  const unregister = owned.unregister;

  try {
    if (runAs) await chown(tempDir, runAs.uid, runAs.gid); // mkdtemp's 0700 dir, the server user's now
    const env: NodeJS.ProcessEnv = { ...process.env, LC_ALL: 'C', LANG: 'C', TZ: 'UTC' };
    for (const v of ['MYSQL_HOST', 'MYSQL_TCP_PORT', 'MYSQL_UNIX_PORT', 'MYSQL_PWD', 'MYSQL_HOME']) delete env[v];
    const spawnOpts = { cwd: tempDir, env, ...(runAs ? { uid: runAs.uid, gid: runAs.gid } : {}) };
    const fast = fastOptions(bins);

    // --- the data directory ------------------------------------------------------------------
    // MariaDB: root@localhost logs in over the socket as the OS user it is (unix_socket), and
    // no account is reachable over TCP; MySQL's --initialize-insecure makes root@localhost
    // without a password, which skip-name-resolve keeps to the socket as well.
    const gateUser = bins.flavor === 'mariadb' && process.getuid?.() !== 0 ? userInfo().username : 'root';
    let init: { cmd: string; args: string[] };
    if (bins.flavor === 'mariadb') {
      const args = ['--no-defaults', `--datadir=${dataDir}`, `--basedir=${dirname(dirname(bins.server))}`, '--skip-test-db', `--tmpdir=${tempDir}`];
      if (versionAtLeast(bins.version, 10, 4)) args.push('--auth-root-authentication-method=socket', `--auth-root-socket-user=${gateUser}`);
      init = { cmd: bins.installDb!, args: [...args, ...fast] };
    } else {
      init = { cmd: bins.server, args: ['--no-defaults', '--initialize-insecure', `--datadir=${dataDir}`, `--log-error=${join(tempDir, 'init.log')}`, `--tmpdir=${tempDir}`, ...fast] };
    }
    const cacheKey = { server: bins.server, args: init.args.filter((a) => !a.includes(tempDir)), uid: runAs?.uid ?? process.getuid?.() ?? -1, gateUser };
    const fromCache = await restoreDatadir(cacheKey, dataDir);
    if (!fromCache) {
      const initResult = await runTool(init.cmd, init.args, spawnOpts, { started: (pid) => owned.watchStartup(pid), timeoutMs: INIT_TIMEOUT_MS });
      if (initResult.code !== 0) {
        const initLog = await readFile(join(tempDir, 'init.log'), 'utf8').catch(() => '');
        const output = `${initResult.output}${initLog}`;
        throw new Error(`${bins.flavor === 'mariadb' ? 'mariadb-install-db' : 'mysqld --initialize-insecure'} failed (${initResult.how}): ${tail(output)}${confinementHint(output, bins)}`);
      }
      await saveDatadir(cacheKey, dataDir);
    }
    const initMs = Date.now() - started;

    // --- the server --------------------------------------------------------------------------
    const port = await freePort();
    const serverArgs = [
      '--no-defaults',
      `--datadir=${dataDir}`,
      `--socket=${socket}`,
      `--port=${port}`,
      '--bind-address=127.0.0.1',
      `--pid-file=${join(tempDir, 'mysqld.pid')}`,
      `--log-error=${logFile}`,
      `--tmpdir=${tempDir}`,
      '--max-connections=100',
      ...fast,
    ];
    const fd = openSync(logFile, 'a');
    try {
      child = spawn(bins.server, serverArgs, { ...spawnOpts, stdio: ['ignore', fd, fd] });
    } finally {
      closeSync(fd);
    }
    const proc = child;
    owned.adopt(proc);
    proc.once('error', () => {}); // spawn errors surface as an early exit below
    // A forgotten dispose() still lets the process end; the cleanup registry stops the server.
    proc.unref();

    const admin: MysqlConnection = { host: '127.0.0.1', port, user: gateUser, socketPath: socket };
    await waitReady(admin, proc, logFile, bins);
    const password = randomBytes(18).toString('base64url');
    const facts = await withConnection(admin, async (c) => {
      // No login over TCP but the one made here (an older MariaDB's passwordless root@127.0.0.1,
      // anonymous users), which the project's code gets with --migration-role superuser.
      for (const u of await rows<{ u: unknown; h: unknown }>(c, "SELECT User AS u, Host AS h FROM mysql.user WHERE Host <> 'localhost' OR User = ''")) {
        await c.query(`DROP USER ${account(text(u.u) ?? '', text(u.h) ?? '')}`);
      }
      const facts = await serverFacts(c);
      await c.query(`CREATE USER ${account('root', '127.0.0.1')} ${await identifiedBy(c, facts.flavor, password)}`);
      await c.query(`GRANT ALL PRIVILEGES ON *.* TO ${account('root', '127.0.0.1')} WITH GRANT OPTION`);
      await c.query(`CREATE DATABASE ${quoteIdent(GATE_DATABASE)}`);
      return facts;
    });
    const totalMs = Date.now() - started;
    log(
      `local: ${bins.flavor === 'mariadb' ? 'MariaDB' : 'MySQL'} ${facts.version} ready in ${totalMs} ms (${fromCache ? 'cached data directory' : 'initialisation'} ${initMs} ms) at ${tempDir}` +
        (runAs ? ` running as ${runAs.name}` : ''),
    );
    return new MysqlServer(engine, {
      provider: 'local',
      admin,
      project: { host: '127.0.0.1', port },
      projectAdmin: { user: 'root', password },
      facts,
      database: GATE_DATABASE,
      shared: false,
      teardown: stop,
      afterDispose: unregister,
      startup: { totalMs, initMs, cached: fromCache },
      ...(proc.pid ? { serverPid: proc.pid } : {}),
      tempDir,
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

async function waitReady(admin: MysqlConnection, proc: ChildProcess, logFile: string, bins: MysqlBinaries): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  let lastError = '';
  // Checking for the socket file costs nothing: look often, so that start-up is not rounded up.
  for (let delay = 5; ; delay = Math.min(delay * 2, 20)) {
    if (proc.exitCode !== null || proc.signalCode !== null) {
      const output = await readFile(logFile, 'utf8').catch(() => '(no server log)');
      throw new Error(`the server exited during start-up (${proc.exitCode ?? proc.signalCode}): ${tail(output)}${confinementHint(output, bins)}`);
    }
    // The socket file appears once the server listens: no connection attempts before.
    if (existsSync(admin.socketPath!)) {
      try {
        const conn = await connect(admin);
        await conn.end().catch(() => conn.destroy());
        return;
      } catch (err) {
        lastError = (err as Error).message;
      }
    }
    if (Date.now() > deadline) {
      const output = await readFile(logFile, 'utf8').catch(() => '(no server log)');
      throw new Error(`the server did not accept connections within ${READY_TIMEOUT_MS / 1000} s (${lastError || 'no socket yet'}): ${tail(output)}`);
    }
    await new Promise((r) => setTimeout(r, delay));
  }
}

/** The last lines of the server's output, without its [Note] lines. */
const tail = (text: string, lines = 15): string => tailOf(text, lines, /\[Note\]|^\s*$/);

/** Ubuntu's AppArmor profile keeps mysqld to its own directories. */
function confinementHint(output: string, bins: MysqlBinaries): string {
  if (!/Permission denied|Errcode: 13|errno: 13/i.test(output)) return '';
  const profile = `/etc/apparmor.d/usr.sbin.${bins.server.split('/').pop()}`;
  if (!existsSync(profile)) return '';
  return `\n(AppArmor confines ${bins.server} to its own directories (${profile}): run \`sudo aa-complain ${bins.server}\` or \`sudo ln -s ${profile} /etc/apparmor.d/disable/ && sudo apparmor_parser -R ${profile}\`, or pass --database-url to a running server)`;
}

