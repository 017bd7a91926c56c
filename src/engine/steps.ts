// Turning a failed Alembic step into what the user needs to read: the revision, the file and
// line, the database's own error, and what to do.
import { WorkerError } from '../alembic/worker-client.js';
import { DEFAULT_ENGINE, engineById } from '../engines/index.js';
import type { SourceTree } from '../alembic/tree.js';
import type { Finding, StepResult } from '../report/types.js';

export interface StepFailure {
  kind: string;
  message: string;
  revision?: string;
  file?: string;
  line?: number;
  detail?: string;
}

const firstLines = (text: string, n: number) => text.trim().split('\n').slice(0, n).join('\n');

export function describeFailure(err: unknown, tree: SourceTree): StepFailure {
  if (!(err instanceof WorkerError)) {
    return { kind: 'internal', message: err instanceof Error ? err.message : String(err) };
  }
  const info = err.info;
  let message = info.message;
  // Alembic's own progress lines say nothing the finding does not; keep what the user's code printed.
  const output = err.output
    .split('\n')
    .filter((l) => !/^INFO {2}\[alembic\.(runtime\.migration|env)\]/.test(l))
    .join('\n')
    .trim();
  const detail = [info.detail?.trim(), output ? `output:\n${output.split('\n').slice(-20).join('\n')}` : ''].filter(Boolean).join('\n\n');
  // What the engine knows about its own errors (a missing driver, a right the role lacks, ...).
  const hint = (engineById(tree.engineId ?? '') ?? DEFAULT_ENGINE).hint?.(message, { label: tree.label }) ?? '';
  return {
    kind: info.kind,
    message: (info.kind === 'exception' ? firstLines(message, 6) : message) + (hint ? `\n${hint}` : ''),
    revision: info.revision ?? undefined,
    file: info.file ? tree.relativePath(info.file) : undefined,
    line: info.line ?? undefined,
    detail: detail || undefined,
  };
}

export function failedStep(failure: StepFailure, ms: number): StepResult {
  return { status: failure.kind === 'timeout' ? 'timeout' : 'failed', ms: Math.round(ms), error: failure.message };
}

/** Findings of env.py failing before any migration ran (kind setup): the gate could not test. */
const envFailures = new WeakSet<Finding>();

/** Whether `finding` says env.py (or what it loads) fails before any migration runs. */
export function isEnvFailure(finding: Finding): boolean {
  return envFailures.has(finding);
}

export function findingFrom(failure: StepFailure, message: string, fallback: { revision?: string; file?: string }): Finding {
  const finding: Finding = {
    severity: 'error',
    message,
    revision: failure.revision ?? fallback.revision,
    file: failure.file ?? fallback.file,
    ...(failure.line ? { line: failure.line } : {}),
    detail: failure.detail,
  };
  if (failure.kind === 'setup') envFailures.add(finding);
  return finding;
}
