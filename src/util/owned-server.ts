// A server process of the gate's own (PostgreSQL's postmaster, mariadbd) in a temp dir of its
// own: stopped and removed on dispose and on failure, by the cleanup registry on a signal or an
// exit, and by the watchdog if the gate is killed outright. Registered before anything else
// happens, so a signal during start-up still cleans up.
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { rmSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { registerCleanup } from './cleanup.js';
import { runningSync } from './run-as.js';
import { watchOver } from './sentinel.js';

export interface OwnedServerOptions {
  tempDir: string;
  /** The shutdown the server takes well (postgres: SIGINT, fast; mariadbd: SIGTERM). */
  stopSignal: NodeJS.Signals;
  /** The one a synchronous exit sends (postgres: SIGQUIT, immediate), SIGKILL after 2 s. */
  exitSignal: NodeJS.Signals;
  /** How long a shutdown may take before SIGKILL. */
  stopTimeoutMs: number;
}

export class OwnedServer {
  private child: ChildProcess | undefined;
  private exited: Promise<void> | undefined;
  private readonly watchdog;
  /** Ends the signal registration (after dispose). */
  readonly unregister: () => void;

  constructor(private readonly opts: OwnedServerOptions) {
    this.watchdog = watchOver({ dirs: [opts.tempDir] });
    this.unregister = registerCleanup(() => this.stop(), {
      onExitSync: () => {
        stopSync(this.child, opts.exitSignal);
        rmSync(opts.tempDir, { recursive: true, force: true });
        this.watchdog.remove();
      },
    });
  }

  /** A process of the start-up (an initialisation tool) the watchdog ends with its tree. */
  watchStartup(pid: number): void {
    this.watchdog.update({ pids: [{ pid, signal: 'SIGKILL', tree: true }], dirs: [this.opts.tempDir] });
  }

  /** The server itself, once spawned: the watchdog sends it `exitSignal`. */
  adopt(child: ChildProcess): void {
    this.child = child;
    this.exited = new Promise((resolve) => child.once('exit', () => resolve()));
    if (child.pid) this.watchdog.update({ pids: [{ pid: child.pid, signal: this.opts.exitSignal }], dirs: [this.opts.tempDir] });
  }

  private alive(): boolean {
    return !!this.child && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Stops the server (SIGKILL after the timeout) and removes the temp dir. */
  async stop(): Promise<void> {
    const child = this.child;
    if (child && this.exited && this.alive()) {
      child.kill(this.opts.stopSignal);
      const timer = setTimeout(() => {
        if (this.alive()) {
          try {
            child.kill('SIGKILL');
          } catch {
            // already gone
          }
        }
      }, this.opts.stopTimeoutMs);
      await this.exited;
      clearTimeout(timer);
    }
    await rm(this.opts.tempDir, { recursive: true, force: true, maxRetries: 3 });
    this.watchdog.remove();
  }
}

/** On the way out, where nothing can be awaited: `signal`, up to 2 s, then SIGKILL. */
function stopSync(child: ChildProcess | undefined, signal: NodeJS.Signals): void {
  if (!child?.pid || child.exitCode !== null || child.signalCode !== null) return;
  const pid = child.pid;
  try {
    process.kill(pid, signal);
  } catch {
    return;
  }
  const pause = new Int32Array(new SharedArrayBuffer(4));
  const deadline = Date.now() + 2_000;
  while (Date.now() < deadline && runningSync(pid)) Atomics.wait(pause, 0, 0, 20);
  if (runningSync(pid)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone
    }
  }
}

export interface RunResult {
  code: number | null;
  /** "exit code 1", "killed by SIGKILL", "could not run ...". */
  how: string;
  output: string;
}

/** Runs a set-up tool (initdb, mariadb-install-db) to its end, its output kept; killed after `timeoutMs`. */
export function runTool(cmd: string, args: string[], opts: Parameters<typeof spawn>[2], more: { started?: (pid: number) => void; timeoutMs?: number } = {}): Promise<RunResult> {
  return new Promise((resolve) => {
    let output = '';
    const p = spawn(cmd, args, { ...opts, stdio: ['ignore', 'pipe', 'pipe'] });
    if (p.pid) more.started?.(p.pid);
    const timer = more.timeoutMs ? setTimeout(() => p.kill('SIGKILL'), more.timeoutMs) : undefined;
    p.stdout!.on('data', (d: Buffer) => (output += d.toString()));
    p.stderr!.on('data', (d: Buffer) => (output += d.toString()));
    p.once('error', (err) => {
      clearTimeout(timer);
      resolve({ code: -1, how: `could not run ${cmd}`, output: `${output}${err.message}` });
    });
    p.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, how: signal ? `killed by ${signal}` : `exit code ${code}`, output });
    });
  });
}

/** A TCP port nobody listens on on 127.0.0.1 (a server's port there, and its socket file's name). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

/** The last lines of a tool's or a server's output, for a message; `skip` leaves out noise. */
export function tail(text: string, lines = 15, skip?: RegExp): string {
  const kept = text
    .trim()
    .split('\n')
    .filter((l) => !skip || !skip.test(l))
    .slice(-lines)
    .join('\n');
  return kept ? `\n${kept}` : '(no output)';
}
