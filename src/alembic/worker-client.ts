// Client for the persistent Python worker (src/worker, the alembic_gate_worker package): one process per source tree,
// line-delimited JSON over stdin / a private stdout (the worker moves both off descriptors 0
// and 1 before user code runs). User output arrives on stderr and is kept as a bounded tail so
// that errors can show what the migration printed. The worker and everything it started end
// with the worker: killed as a tree (util/proctree.ts) on every exit path, and nothing here
// waits on a pipe a left-over descendant could hold open.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import { registerCleanup } from '../util/cleanup.js';
import { watchOver } from '../util/sentinel.js';
import { splitCommand } from '../util/command.js';
import { killTreeSync } from '../util/proctree.js';
import type { DatabaseTarget } from './tree.js';
import { workerEnvironment } from './worker-env.js';

export interface WorkerErrorInfo {
  kind: string;
  message: string;
  type?: string;
  file?: string | null;
  line?: number | null;
  revision?: string | null;
  detail?: string | null;
  package?: string;
}

/** A failure reported by the worker or of the worker process itself. */
/** What an upgrade or downgrade reports. */
export interface StepResult {
  ms: number;
  /**
   * The step's SQL wrote to the system catalogs or to roles directly (UPDATE pg_enum ...,
   * ALTER ROLE ...): changes DDL event triggers do not report (see snapshot/tracker.ts).
   */
  catalogWrite?: boolean;
  /** The version table env.py configured (version_table / version_table_schema). */
  versionTable?: { schema: string | null; name: string };
  /** With `observe`: the statements that took locks on, or rewrote, the tables observed. */
  locks?: LockEvent[];
  /** With `trace`: the statements the step ran that change something (reads left out), parameters written in. */
  statements?: string[];
}

/** Tables whose locks and rewrites a step observes (those that existed before the revision). */
export interface LockObservation {
  /** `database`: multidb, the section's database the table is in (oids are per database). */
  tables: { oid: number; filenode: number; name: string; database?: string }[];
  /** The version table's name: its updates are Alembic's, not the revision's. */
  versionTable?: string;
}

/** One statement that took a lock on an observed table, rewrote one, or ran while one was held exclusively. */
export interface LockEvent {
  sql: string;
  /** Where in the revision file the statement came from. */
  file: string | null;
  line: number | null;
  /** Locks taken by this statement (PostgreSQL lock mode names: AccessExclusiveLock, ShareLock, ...). */
  locks: { table: string; mode: string }[];
  /** Locks on tables the statement names that the transaction already held (it keeps them longer). */
  held?: { table: string; mode: string }[];
  /** Tables whose storage this statement rewrote. */
  rewritten: string[];
  /** Earlier events (indexes) whose ACCESS EXCLUSIVE locks were still held when this statement ran. */
  afterExclusive: number[];
  /** The session's lock_timeout when it ran ("0" is none). */
  lockTimeout: string | null;
}

/** How the worker finds the project (see project-config.ts); paths absolute. */
export interface ProjectLoad {
  shape?: 'ini' | 'pyproject' | 'flask';
  ini?: string | null;
  toml?: string | null;
  cwd?: string;
  /** Flask: the app to build (FLASK_APP syntax), else as `flask` finds it. */
  flaskApp?: string;
  /** Flask: build the app once to report its database URL's scheme. */
  probeAppUrl?: boolean;
}

export class WorkerError extends Error {
  constructor(
    readonly info: WorkerErrorInfo,
    readonly output: string,
  ) {
    super(info.message);
    this.name = 'WorkerError';
  }
}

export interface WorkerVersions {
  python: string;
  executable: string;
  alembic: string;
  sqlalchemy: string;
}

export interface GraphRevision {
  revision: string;
  downRevisions: string[];
  branchLabels: string[];
  dependsOn: string[];
  message: string;
  path: string;
  upgradeHash: string | null;
  downgradeHash: string | null;
  /** The code each hash is of, canonicalised (for the history check's diff). */
  upgradeCode?: string | null;
  downgradeCode?: string | null;
}

export interface WorkerGraph {
  ok: boolean;
  revisions: GraphRevision[];
  heads: string[];
  /** kind duplicate: the message names every file itself. */
  errors: { file: string | null; line: number | null; message: string; kind?: string }[];
}

export interface CompatResult {
  ran: boolean;
  /** env.py configured a target_metadata. */
  metadata: boolean;
  tables: number;
  problems: { kind: 'missing_table' | 'missing_column' | 'unfilled_column' | 'statement'; table: string; column: string | null; statement: string; message: string }[];
  ms: number;
}

export interface DriftResult {
  skipped?: string;
  operations?: { kind: string; message: string; table?: string; column?: string; name?: string }[];
  upgrade?: string | null;
  downgrade?: string | null;
  notes?: string[];
  ms: number;
}

interface Pending {
  resolve: (value: unknown) => void;
  reject: (err: Error) => void;
  timer?: NodeJS.Timeout;
}

const OUTPUT_TAIL = 16_384;
/** Node's timers hold 32-bit milliseconds; a longer delay would fire at once. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * The worker, which python runs as `python -u <path>`: the zipapp beside the bundle in dist/
 * (scripts/build.mjs packs it), the package's source directory src/worker when running from
 * src/alembic (a directory with a __main__.py runs as a zipapp does), else the built zipapp.
 */
export function workerScriptPath(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  const candidates = [join(here, 'worker', 'alembic-gate-worker.pyz'), join(here, '..', 'worker'), join(here, '..', 'dist', 'worker', 'alembic-gate-worker.pyz')];
  const found = candidates.find((p) => existsSync(p));
  if (!found) throw new Error(`alembic-gate is incomplete: the Python worker is missing (looked in ${candidates.join(', ')})`);
  return found;
}

export interface WorkerStartOptions {
  python: string;
  /** Working directory to start in (the worker chdirs to the ini's directory on load). */
  cwd: string;
  /** Shown in messages: "base" or "head". */
  label: string;
  /** How long Python may take to start and import Alembic. */
  startTimeoutMs?: number;
  env?: NodeJS.ProcessEnv;
  /** What the worker reports besides results (connections it redirected). */
  onNotice?: (notice: string) => void;
  /** Variables passed to the worker whatever their names (see worker-env.ts). */
  passEnv?: readonly string[];
}

export class AlembicWorker {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private output = '';
  private exited: { code: number | null; signal: NodeJS.Signals | null } | null = null;
  /** The Python file the worker is importing right now (its "loading" events), for timeouts. */
  private loading: string | null = null;
  versions: WorkerVersions | null = null;

  private constructor(
    private readonly child: ChildProcess,
    readonly options: WorkerStartOptions,
  ) {}

  static async start(options: WorkerStartOptions): Promise<AlembicWorker> {
    const argv = splitCommand(options.python);
    if (argv.length === 0) throw new WorkerError({ kind: 'python', message: 'the Python command is empty: pass --python with an interpreter' }, '');
    const child = spawn(argv[0]!, [...argv.slice(1), '-u', workerScriptPath()], {
      cwd: options.cwd,
      env: workerEnvironment(process.env, options.passEnv, { ...options.env, PYTHONUNBUFFERED: '1', PYTHONDONTWRITEBYTECODE: '1' }),
      stdio: ['pipe', 'pipe', 'pipe'],
      // Own process group: a wrapper such as `poetry run` has children that must die with it.
      detached: true,
    });
    const worker = new AlembicWorker(child, options);
    // A signal, process.exit() or a drained event loop ends the worker's tree too.
    const unregister = registerCleanup(() => worker.close(), { onExitSync: () => worker.kill() });
    const watchdog = child.pid ? watchOver({ pids: [{ pid: child.pid, signal: 'SIGKILL', tree: true }] }) : undefined;
    // A command that could not be started at all ('error', no 'exit') has nothing to clean up.
    child.once('error', () => {
      if (child.pid === undefined) {
        unregister();
        watchdog?.remove();
        worker.exited ??= { code: null, signal: null };
      }
    });
    child.once('exit', () => {
      unregister();
      watchdog?.remove();
      // Output still in flight is read for a moment; then the pipes are let go, whoever else
      // (a process the migration left behind) holds their other end.
      setTimeout(() => {
        for (const stream of [child.stdin, child.stdout, child.stderr]) stream?.destroy();
      }, 200).unref();
    });
    return worker.handshake(options.startTimeoutMs ?? 60_000);
  }

  private handshake(timeoutMs: number): Promise<AlembicWorker> {
    const { child, options } = this;
    return new Promise((resolve, reject) => {
      let settled = false;
      const fail = (info: WorkerErrorInfo) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        this.kill();
        reject(new WorkerError(info, this.output));
      };
      const timer = setTimeout(
        () => fail({ kind: 'python', message: `the ${options.label} tree's Python (${options.python}) did not start within ${Math.round(timeoutMs / 1000)} s` }),
        Math.min(timeoutMs, MAX_TIMER_MS),
      );
      child.on('error', (err: NodeJS.ErrnoException) => {
        const missing = err.code === 'ENOENT';
        fail({
          kind: 'python',
          message: missing
            ? `the Python command "${options.python}" was not found: pass --python (or set ALEMBIC_GATE_PYTHON) to an interpreter that has your project's dependencies installed`
            : `could not start "${options.python}": ${err.message}`,
        });
      });
      child.stderr!.setEncoding('utf8');
      child.stderr!.on('data', (chunk: string) => {
        this.output = (this.output + chunk).slice(-OUTPUT_TAIL);
      });
      child.on('exit', (code, signal) => {
        this.exited = { code, signal };
        if (!settled) {
          const tail = this.output.trim().split('\n').slice(-5).join('\n');
          fail({ kind: 'python', message: `"${options.python}" exited (${signal ?? `code ${code}`}) before the worker started${tail ? `:\n${tail}` : ''}` });
        }
        const err = new WorkerError(
          { kind: 'crash', message: `the ${options.label} tree's Python worker exited unexpectedly (${signal ?? `code ${code}`})` },
          this.output,
        );
        for (const p of this.pending.values()) {
          clearTimeout(p.timer);
          p.reject(err);
        }
        this.pending.clear();
      });
      child.stdin!.on('error', () => {
        /* the exit handler reports a dead worker */
      });
      const lines = createInterface({ input: child.stdout! });
      lines.on('line', (line) => {
        let msg: { event?: string; id?: number; ok: boolean; result?: unknown; error?: WorkerErrorInfo; versions?: WorkerVersions; notices?: string[] };
        try {
          msg = JSON.parse(line);
        } catch {
          return; // not ours; the worker never writes anything else here
        }
        if (msg.event === 'loading') {
          this.loading = (msg as { file?: string | null }).file ?? null;
          return;
        }
        if (msg.event === 'hello') {
          if (settled) return;
          if (!msg.ok) {
            const e = msg.error!;
            const pkg = e.package ?? 'alembic';
            fail({
              kind: 'python',
              message: `the Python at ${(e as { executable?: string }).executable ?? options.python} (from "${options.python}") cannot import ${pkg}: install your project's dependencies (${pkg === 'sqlalchemy' ? 'SQLAlchemy' : 'Alembic'}) in that environment, or pass --python with the interpreter that has them`,
              package: pkg,
            });
            return;
          }
          settled = true;
          clearTimeout(timer);
          this.versions = msg.versions!;
          resolve(this);
          return;
        }
        for (const n of msg.notices ?? []) options.onNotice?.(n);
        const p = msg.id != null ? this.pending.get(msg.id) : undefined;
        if (!p) return;
        this.pending.delete(msg.id!);
        clearTimeout(p.timer);
        if (msg.ok) p.resolve(msg.result);
        else p.reject(new WorkerError(msg.error!, this.takeOutput()));
      });
    });
  }

  /** What the worker printed since the last call (the user's migration output, logs). */
  takeOutput(): string {
    const out = this.output;
    this.output = '';
    return out;
  }

  get alive(): boolean {
    return this.exited === null;
  }

  request<T>(cmd: string, args: Record<string, unknown> = {}, timeoutMs?: number): Promise<T> {
    if (!this.alive) return Promise.reject(new WorkerError({ kind: 'crash', message: `the ${this.options.label} tree's Python worker is not running` }, this.output));
    const id = this.nextId++;
    this.output = '';
    this.loading = null;
    return new Promise<T>((resolve, reject) => {
      const pending: Pending = { resolve: resolve as (v: unknown) => void, reject };
      if (timeoutMs && timeoutMs > 0) {
        const limit = Math.min(timeoutMs, MAX_TIMER_MS);
        pending.timer = setTimeout(() => {
          this.pending.delete(id);
          const out = this.output;
          const file = this.loading;
          this.kill();
          const what = cmd === 'load' ? `loading the ${this.options.label} tree` : `${cmd}${typeof args.target === 'string' ? ` ${args.target}` : ''}`;
          reject(
            new WorkerError(
              {
                kind: 'timeout',
                message: file
                  ? `${what}: importing ${file} did not finish within ${Math.round(limit / 1000)} s and was stopped; the file blocks at import (a network call, a lock, a prompt?): move that work into upgrade(), or raise the limit with --step-timeout`
                  : `${what} ran longer than ${Math.round(limit / 1000)} s and was stopped (raise the limit with --step-timeout)`,
                ...(file ? { file } : {}),
              },
              out,
            ),
          );
        }, limit);
      }
      this.pending.set(id, pending);
      this.child.stdin!.write(JSON.stringify({ id, cmd, ...args }) + '\n');
    });
  }

  /** `databases`: the ini sections of an `alembic init -t multidb` project, else null. */
  load(config: string, projectRoot: string, project: ProjectLoad = {}, timeoutMs = 600_000): Promise<{ versions: WorkerVersions; graph: WorkerGraph; databases?: string[] | null; url?: string | null }> {
    return this.request('load', { config, projectRoot, ...project }, timeoutMs);
  }

  /** --bootstrap models: target_metadata.create_all through env.py, stamped at the heads. */
  bootstrapModels(timeoutMs: number): Promise<StepResult> {
    return this.request('bootstrap', {}, timeoutMs);
  }

  /** Runs env.py without migrations: what it sets up itself (schemas, the version table) is there before a first revision. */
  setup(timeoutMs: number): Promise<StepResult> {
    return this.request('setup', {}, timeoutMs);
  }

  useDatabase(target: DatabaseTarget, mode: 'redirect' | 'refuse', envVars: string[]): Promise<void> {
    const sections = (target.others ?? []).map((o) => ({ name: o.section, url: o.target.url, twin: o.target.twin }));
    return this.request('database', { engine: target.engine, url: target.url, plainUrl: target.plainUrl, twin: target.twin, marker: target.marker, aliases: target.aliases, mode, envVars, ...(target.section ? { section: target.section } : {}), ...(sections.length ? { sections } : {}) });
  }

  upgrade(target: string, timeoutMs: number, observe?: LockObservation, trace = false): Promise<StepResult> {
    return this.request('upgrade', { target, ...(observe ? { observe } : {}), ...(trace ? { trace } : {}) }, timeoutMs);
  }

  downgrade(target: string, timeoutMs: number, observe?: LockObservation, trace = false): Promise<StepResult> {
    return this.request('downgrade', { target, ...(observe ? { observe } : {}), ...(trace ? { trace } : {}) }, timeoutMs);
  }

  sql(direction: 'upgrade' | 'downgrade', from: string | null, to: string, timeoutMs: number): Promise<{ sql: string }> {
    return this.request('sql', { direction, from, to }, timeoutMs);
  }

  drift(timeoutMs: number): Promise<DriftResult> {
    return this.request('drift', {}, timeoutMs);
  }

  /** Closes the connection the worker keeps between steps (a database in use cannot be a template). */
  release(): Promise<void> {
    return this.request('release', {});
  }

  /** The models of this tree, tried against the connected database (see alembic_gate_worker/compat.py, cmd_compat). */
  compat(timeoutMs: number): Promise<CompatResult> {
    return this.request('compat', {}, timeoutMs);
  }

  /** Kill the worker and anything it started (its whole process group). */
  kill(): void {
    if (this.exited) return;
    if (this.child.pid) killTreeSync(this.child.pid);
    else this.child.kill('SIGKILL');
  }

  async close(): Promise<void> {
    if (!this.alive) return;
    const exited = new Promise<void>((r) => this.child.once('exit', () => r()));
    try {
      this.child.stdin!.end(JSON.stringify({ id: 0, cmd: 'exit' }) + '\n');
    } catch {
      /* already gone */
    }
    const timer = setTimeout(() => this.kill(), 3_000);
    await exited;
    clearTimeout(timer);
  }
}
