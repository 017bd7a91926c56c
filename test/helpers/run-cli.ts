// Runs the bundled CLI (dist/cli.js, build it first: node scripts/build.mjs) the way a user
// would: `node dist/cli.js check ... --format json` in a repository, and parses the report.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Report } from '../../src/report/types.js';
import { projectRoot } from './fixture-repo.js';

/** The bundle under test; ALEMBIC_GATE_TEST_CLI points the tests at another build. */
export const cliPath = process.env.ALEMBIC_GATE_TEST_CLI ? resolve(process.env.ALEMBIC_GATE_TEST_CLI) : resolve(projectRoot, 'dist', 'cli.js');

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
  /** The JSON report, when stdout carried one. */
  report?: Report;
  ms: number;
}

export interface RunCliOptions {
  env?: NodeJS.ProcessEnv;
  timeoutMs?: number;
  /** Pass `--format json` (default true). */
  json?: boolean;
}

export function runCli(dir: string, args: string[], opts: RunCliOptions = {}): Promise<CliResult> {
  if (!existsSync(cliPath)) throw new Error(`${cliPath} is missing: run node scripts/build.mjs first`);
  const argv = [cliPath, 'check', ...args, ...(opts.json === false || args.includes('--format') ? [] : ['--format', 'json'])];
  const timeoutMs = opts.timeoutMs ?? 110_000;
  const started = performance.now();
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, argv, { cwd: dir, env: { ...process.env, NO_COLOR: '1', ...opts.env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => {
      child.kill('SIGTERM');
      setTimeout(() => child.kill('SIGKILL'), 5000).unref();
    }, timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      let report: Report | undefined;
      const text = stdout.trim();
      if (text.startsWith('{')) {
        try {
          report = JSON.parse(text) as Report;
        } catch {
          report = undefined;
        }
      }
      resolvePromise({ code: code ?? (signal ? 128 : 2), stdout, stderr, report, ms: Math.round(performance.now() - started) });
    });
  });
}
