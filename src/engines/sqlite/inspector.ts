// The gate's SQLite reader: one small Python process per run (the worker package run with
// --inspect-sqlite: alembic_gate_worker/sqlite_inspect.py, stdlib sqlite3 only, no project code),
// spoken to in JSON lines. Python's sqlite3 is the library the project's own code uses, so the
// gate reads files as the project writes them, with no native module in the bundle.
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { workerScriptPath } from '../../alembic/worker-client.js';
import { workerEnvironment } from '../../alembic/worker-env.js';
import { splitCommand } from '../../util/command.js';

const START_TIMEOUT_MS = 30_000;

export class SqliteInspector {
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private exited = false;
  private stderr = '';

  private constructor(
    private readonly child: ChildProcess,
    readonly version: string,
  ) {}

  get pid(): number | undefined {
    return this.child.pid;
  }

  static async start(python: string, passEnv: readonly string[]): Promise<SqliteInspector> {
    const argv = splitCommand(python);
    if (argv.length === 0) throw new Error('the Python command is empty: pass --python with an interpreter');
    const child = spawn(argv[0]!, [...argv.slice(1), '-u', workerScriptPath(), '--inspect-sqlite'], {
      env: workerEnvironment(process.env, passEnv, { PYTHONDONTWRITEBYTECODE: '1' }),
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const lines = createInterface({ input: child.stdout! });
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
    const ready = await new Promise<{ version: string }>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${python} did not answer within ${START_TIMEOUT_MS / 1000} s`)), START_TIMEOUT_MS);
      child.once('error', (err) => {
        clearTimeout(timer);
        reject(new Error(`${python} could not be started: ${err.message}`));
      });
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`${python} exited (code ${code}) before it was ready${stderr ? `: ${stderr.trim().split('\n').slice(-1)[0]}` : ''}`));
      });
      lines.once('line', (line) => {
        clearTimeout(timer);
        try {
          resolve(JSON.parse(line) as { version: string });
        } catch {
          reject(new Error(`unexpected output from ${python}: ${line.slice(0, 200)}`));
        }
      });
    }).catch((err: Error) => {
      child.kill('SIGKILL');
      throw err;
    });
    const inspector = new SqliteInspector(child, ready.version);
    inspector.stderr = stderr;
    child.stderr!.on('data', (d: Buffer) => (inspector.stderr = (inspector.stderr + d.toString()).slice(-4000)));
    child.removeAllListeners('exit');
    child.on('exit', () => {
      inspector.exited = true;
      for (const p of inspector.pending.values()) p.reject(new Error(`the SQLite inspector exited${inspector.stderr ? `: ${inspector.stderr.trim().split('\n').slice(-1)[0]}` : ''}`));
      inspector.pending.clear();
    });
    lines.on('line', (line) => {
      let msg: { id: number; ok: boolean; result?: unknown; error?: string };
      try {
        msg = JSON.parse(line);
      } catch {
        return;
      }
      const p = inspector.pending.get(msg.id);
      if (!p) return;
      inspector.pending.delete(msg.id);
      if (msg.ok) p.resolve(msg.result);
      else p.reject(new Error(msg.error ?? 'the SQLite inspector failed'));
    });
    return inspector;
  }

  request(op: string, params: Record<string, unknown>): Promise<unknown> {
    if (this.exited) return Promise.reject(new Error('the SQLite inspector is not running'));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.child.stdin!.write(`${JSON.stringify({ id, op, ...params })}\n`);
    });
  }

  kill(): void {
    if (!this.exited) this.child.kill('SIGKILL');
  }

  async close(): Promise<void> {
    if (this.exited) return;
    const gone = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    this.child.stdin!.end();
    const timer = setTimeout(() => this.kill(), 2000);
    await gone;
    clearTimeout(timer);
  }
}
