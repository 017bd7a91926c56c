// Small formatting helpers shared by the markdown and text renderers (pure).
import type { CheckResult, CheckStatus, Report, RevisionReport, StepResult } from './types.js';

export function formatMs(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return '-';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  const min = Math.floor(ms / 60_000);
  const sec = Math.round((ms % 60_000) / 1000);
  return `${min} min ${String(sec).padStart(2, '0')} s`;
}

export function shortSha(sha: string | undefined): string {
  return sha ? sha.slice(0, 7) : '?';
}

export function plural(n: number, word: string, many = `${word}s`): string {
  return `${n} ${n === 1 ? word : many}`;
}

/** Checks that made the verdict fail: status fail (error checks are counted separately). */
export function failedChecks(report: Report): CheckResult[] {
  return report.checks.filter((c) => c.status === 'fail');
}

export function verdictText(report: Report): string {
  if (report.status === 'pass') return 'migrations pass';
  if (report.status === 'error') {
    const errored = report.checks.filter((c) => c.status === 'error').map((c) => c.id);
    return errored.length > 0 ? `the gate could not finish (${errored.join(', ')})` : 'the gate could not run';
  }
  const failed = failedChecks(report);
  if (failed.length === 0) return 'failed';
  return `${plural(failed.length, 'check')} failed (${failed.map((c) => c.id).join(', ')})`;
}

export const CHECK_STATUS_ORDER: Record<CheckStatus, number> = { error: 0, fail: 1, pass: 2, skip: 3 };

/** A revision is "quiet" when every step it ran succeeded and the round trip left no difference. */
export function revisionPassed(rev: RevisionReport): boolean {
  const steps = [rev.steps.upgrade, rev.steps.downgrade, rev.steps.reupgrade].filter((s): s is StepResult => !!s);
  return rev.differences.length === 0 && steps.every((s) => s.status === 'ok' || s.status === 'skipped');
}

/** Phase timings other than the total, in report order. */
export function phaseTimings(report: Report): [string, number][] {
  return Object.entries(report.timings).filter(([k, v]) => k !== 'totalMs' && typeof v === 'number') as [string, number][];
}

export function phaseName(key: string): string {
  return key.replace(/Ms$/, '');
}
