// A process-wide registry of cleanups (drop a database, stop a server, remove a temp dir).
// Each cleanup runs at most once: when its owner disposes normally (and unregisters it), when
// the event loop drains with cleanups left over, on process.exit() (synchronous fallback only),
// or on SIGINT/SIGTERM/SIGHUP, after which the process exits with 128 + the signal number.
// Signal handlers are installed only while something is registered, so the process keeps
// its default signal behaviour otherwise.

export type CleanupFn = () => void | Promise<void>;

export interface CleanupOptions {
  /**
   * Synchronous last resort for the 'exit' event, where nothing async can run
   * (e.g. SIGKILL a server pid, rmSync a temp dir). Used only if the cleanup did not run before.
   */
  onExitSync?: () => void;
}

interface Entry {
  fn: CleanupFn;
  onExitSync?: () => void;
}

const SIGNAL_EXIT_CODES: Record<string, number> = { SIGINT: 130, SIGTERM: 143, SIGHUP: 129 };
const DEFAULT_TIME_CAP_MS = 10_000;

let nextId = 1;
const entries = new Map<number, Entry>();
let installed = false;
let signalled: string | undefined;

/** Register a cleanup. Returns a function that unregisters it (call it after disposing). */
export function registerCleanup(fn: CleanupFn, opts: CleanupOptions = {}): () => void {
  const id = nextId++;
  entries.set(id, { fn, onExitSync: opts.onExitSync });
  installHandlers();
  return () => {
    entries.delete(id);
    if (entries.size === 0) uninstallHandlers();
  };
}

/** Number of cleanups still registered (for diagnostics and tests). */
export function pendingCleanups(): number {
  return entries.size;
}

/**
 * Run every registered cleanup once, newest first (databases before the servers they live on),
 * each within what is left of the time cap. Failures are reported on stderr and do not stop
 * the others.
 */
export async function runCleanups(opts: { timeoutMs?: number } = {}): Promise<void> {
  const deadline = Date.now() + (opts.timeoutMs ?? DEFAULT_TIME_CAP_MS);
  const ids = [...entries.keys()].reverse();
  for (const id of ids) {
    const entry = entries.get(id);
    if (!entry) continue;
    entries.delete(id);
    const left = deadline - Date.now();
    if (left <= 0) {
      // Out of time: fall back to the synchronous variant for the rest.
      runSync(entry);
      continue;
    }
    let timer: NodeJS.Timeout | undefined;
    try {
      const outcome = await Promise.race([
        Promise.resolve().then(entry.fn).then(() => 'done' as const),
        new Promise<'timeout'>((resolve) => {
          timer = setTimeout(() => resolve('timeout'), left);
          timer.unref();
        }),
      ]);
      if (outcome === 'timeout') {
        process.stderr.write('alembic-gate: a cleanup did not finish in time; forcing it\n');
        runSync(entry);
      }
    } catch (err) {
      process.stderr.write(`alembic-gate: cleanup failed: ${errorText(err)}\n`);
      runSync(entry);
    } finally {
      if (timer) clearTimeout(timer);
    }
  }
  if (entries.size === 0) uninstallHandlers();
}

function runSync(entry: Entry): void {
  try {
    entry.onExitSync?.();
  } catch (err) {
    process.stderr.write(`alembic-gate: cleanup failed: ${errorText(err)}\n`);
  }
}

function onSignal(signal: NodeJS.Signals): void {
  const code = SIGNAL_EXIT_CODES[signal] ?? 1;
  if (signalled) {
    // A second signal while cleaning up: stop waiting, do what can be done synchronously.
    onExit();
    process.exit(code);
  }
  signalled = signal;
  void runCleanups().finally(() => process.exit(code));
}

function onBeforeExit(): void {
  // The event loop drained with cleanups left (an owner forgot to dispose): run them.
  if (entries.size > 0 && !signalled) void runCleanups();
}

function onExit(): void {
  const ids = [...entries.keys()].reverse();
  for (const id of ids) {
    const entry = entries.get(id);
    entries.delete(id);
    if (entry) runSync(entry);
  }
}

function installHandlers(): void {
  if (installed) return;
  installed = true;
  for (const signal of Object.keys(SIGNAL_EXIT_CODES)) process.on(signal, onSignal);
  process.on('beforeExit', onBeforeExit);
  process.on('exit', onExit);
}

function uninstallHandlers(): void {
  // Keep the signal handlers while a signal is being handled, so a second one forces the exit.
  if (!installed || signalled) return;
  installed = false;
  for (const signal of Object.keys(SIGNAL_EXIT_CODES)) process.off(signal, onSignal);
  process.off('beforeExit', onBeforeExit);
  process.off('exit', onExit);
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
