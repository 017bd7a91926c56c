// The JSON report (schemaVersion 1). This is a public contract: see DESIGN.md.
// Everything here is plain data so that renderers and tests can work on it directly.

import { CHECK_IDS, type CheckId } from '../checks/registry.js';
import type { EngineId } from '../engines/index.js';

// The check ids are the registered checks' (src/checks/registry.ts), in report order.
export { CHECK_IDS, type CheckId };

export type CheckStatus = 'pass' | 'fail' | 'error' | 'skip';
export type GateStatus = 'pass' | 'fail' | 'error';
export type Severity = 'error' | 'warning' | 'notice';

export interface Finding {
  severity: Severity;
  /** One line that names the object at fault (table, column, index, type, revision, file). */
  message: string;
  revision?: string;
  /** Path relative to the repository root, forward slashes. */
  file?: string;
  line?: number;
  /** Longer text: a database error, a traceback tail, a hint. */
  detail?: string;
}

export interface CheckResult {
  id: CheckId;
  status: CheckStatus;
  summary: string;
  findings: Finding[];
}

export type StepStatus = 'ok' | 'failed' | 'timeout' | 'skipped';
export interface StepResult {
  status: StepStatus;
  ms: number;
  error?: string;
}

export interface RevisionSteps {
  upgrade?: StepResult;
  downgrade?: StepResult;
  reupgrade?: StepResult;
}

export interface RevisionReport {
  revision: string;
  downRevisions: string[];
  message: string;
  /** Path relative to the repository root. */
  file: string;
  isNew: boolean;
  branchLabels?: string[];
  dependsOn?: string[];
  steps: RevisionSteps;
  /** Round-trip differences, one readable line each. */
  differences: string[];
}

export interface DriftOperation {
  /** Alembic's operation name: add_table, remove_column, modify_type, add_index, ... */
  kind: string;
  /** The readable line, e.g. "model has column users.nickname (VARCHAR(40)); the migrated schema does not". */
  message: string;
  table?: string;
  column?: string;
  name?: string;
  schema?: string;
}

export interface DriftSection {
  operations: DriftOperation[];
  /** Python body of upgrade() that `alembic revision --autogenerate` would write; null when no drift. */
  suggestedMigration: string | null;
  /** Python body of downgrade() to go with it. */
  suggestedDowngrade?: string | null;
}

export interface SqlPreview {
  revision: string;
  upgrade: string | null;
  downgrade: string | null;
  error?: string;
}

export interface Report {
  schemaVersion: 1;
  status: GateStatus;
  tool: { name: 'alembic-gate'; version: string };
  base: { ref: string; sha: string; heads: string[] };
  head: { ref?: string; sha: string; heads: string[] };
  /** `engine` is an engine's id (src/engines/<id>/). */
  database: { engine: EngineId; version: string; provider: string };
  config: { alembicConfig: string; workingDirectory: string; roundtrip: 'new' | 'all' | 'none' };
  python?: { command: string; version: string; alembic: string; sqlalchemy: string };
  checks: CheckResult[];
  revisions: RevisionReport[];
  drift: DriftSection;
  sql: SqlPreview[];
  /** Notes that do not change the verdict (e.g. providers tried before one worked). */
  notices: string[];
  /** When status is "error": what stopped the gate and what to do. */
  error?: string;
  timings: { totalMs: number; [phase: string]: number };
}

/** Overall verdict from the checks: any error -> error, else any fail -> fail, else pass. */
export function verdictOf(checks: CheckResult[], failOn: readonly CheckId[] = CHECK_IDS): GateStatus {
  if (checks.some((c) => c.status === 'error')) return 'error';
  if (checks.some((c) => c.status === 'fail' && failOn.includes(c.id))) return 'fail';
  return 'pass';
}
