// The `locks` check (PostgreSQL): what each new revision's statements locked and rewrote on
// tables that existed before it, as observed while its upgrade and its downgrade ran (see
// alembic_gate_worker/observe.py, _observe_locks). Pure: observations and revision files in, a CheckResult out.
//
// Rules (ids shown in findings, and used to acknowledge one in a revision file):
//   index-not-concurrent   CREATE INDEX without CONCURRENTLY on an existing table (SHARE: writes wait)
//   table-rewrite          the statement rewrote the table's storage (ACCESS EXCLUSIVE: all wait)
//   set-not-null-scan      SET NOT NULL scans the table under ACCESS EXCLUSIVE
//   validated-constraint   a FOREIGN KEY or CHECK added without NOT VALID validates every row
//   unique-constraint-build  ADD UNIQUE / PRIMARY KEY builds its index under ACCESS EXCLUSIVE
//   no-lock-timeout        ACCESS EXCLUSIVE taken with lock_timeout unset (warning)
//   lock-held-across       ACCESS EXCLUSIVE still held while later statements change data or lock other tables (warning)
// A revision acknowledges one with a comment line, the reason required:
//   # alembic-gate: allow locks/index-not-concurrent: the table has 40 rows
import type { LockEvent } from '../alembic/worker-client.js';
import type { ObservedLocks } from '../engine/roundtrip.js';
import type { CheckResult, Finding, Severity } from '../report/types.js';
import { NO_GRAPH, type CheckDefinition } from './definition.js';

export const LOCK_RULES = [
  'index-not-concurrent',
  'table-rewrite',
  'set-not-null-scan',
  'validated-constraint',
  'unique-constraint-build',
  'no-lock-timeout',
  'lock-held-across',
] as const;
export type LockRule = (typeof LOCK_RULES)[number];

const MODE: Record<string, { name: string; blocks: string | null }> = {
  AccessExclusiveLock: { name: 'ACCESS EXCLUSIVE', blocks: 'reads and writes' },
  ExclusiveLock: { name: 'EXCLUSIVE', blocks: 'writes' },
  ShareRowExclusiveLock: { name: 'SHARE ROW EXCLUSIVE', blocks: 'writes' },
  ShareLock: { name: 'SHARE', blocks: 'writes' },
  ShareUpdateExclusiveLock: { name: 'SHARE UPDATE EXCLUSIVE', blocks: null },
  RowExclusiveLock: { name: 'ROW EXCLUSIVE', blocks: null },
  RowShareLock: { name: 'ROW SHARE', blocks: null },
  AccessShareLock: { name: 'ACCESS SHARE', blocks: null },
};

export interface RevisionFile {
  file: string;
  /** The file's text (for acknowledgements); empty when it cannot be read. */
  text: string;
}

export interface Acknowledgement {
  rule: string;
  reason: string;
  line: number;
}

const ACK = /#\s*alembic-gate:\s*allow\s+locks\/([a-z-]+)\s*(?::\s*(.*\S))?\s*$/;

/** The `# alembic-gate: allow locks/<rule>: <reason>` lines of a revision file. */
export function acknowledgements(text: string): Acknowledgement[] {
  const out: Acknowledgement[] = [];
  text.split('\n').forEach((line, i) => {
    const m = ACK.exec(line);
    if (m) out.push({ rule: m[1]!, reason: m[2] ?? '', line: i + 1 });
  });
  return out;
}

interface Hit {
  rule: LockRule;
  severity: Severity;
  table: string;
  /** One line: what the statement does to the table and who waits. */
  what: string;
  fix: string;
  /** The lock as PostgreSQL's documentation names it, and what waits behind it. */
  lock: string;
  waits: string;
}

const firstLine = (sql: string) => {
  const one = sql.replace(/\s+/g, ' ').trim();
  return one.length > 120 ? `${one.slice(0, 119)}…` : one;
};
const indexName = (sql: string) => /INDEX\s+(?:CONCURRENTLY\s+)?(?:IF\s+NOT\s+EXISTS\s+)?("?[\w.$]+"?)\s+ON\b/i.exec(sql)?.[1]?.replace(/"/g, '');
const isData = (sql: string) => /^\s*(UPDATE|INSERT|DELETE|COPY|MERGE)\b/i.test(sql);

function rewriteFix(sql: string): string {
  if (/\bALTER\s+COLUMN\b[\s\S]*\bTYPE\b/i.test(sql)) return 'change the type in steps: add a column of the new type, backfill it in batches, then swap the columns';
  if (/\bADD\s+(COLUMN\s+)?[\s\S]*\bDEFAULT\b/i.test(sql)) return 'add the column without a volatile default (a constant default is stored without a rewrite since PostgreSQL 11), then backfill it in batches';
  return 'do the change in steps that do not rewrite the table, or in a maintenance window';
}

function hitsOf(e: LockEvent): Hit[] {
  const hits: Hit[] = [];
  const sql = e.sql;
  const stmt = `\`${firstLine(sql)}\``;
  for (const t of e.rewritten) {
    hits.push({ rule: 'table-rewrite', severity: 'error', table: t, lock: 'ACCESS EXCLUSIVE', waits: 'reads and writes', what: `${stmt} rewrites ${t} (every row, into new storage) under an ACCESS EXCLUSIVE lock: reads and writes of ${t} wait until it is done`, fix: rewriteFix(sql) });
  }
  const taken = new Set(e.locks);
  for (const l of [...e.locks, ...(e.held ?? [])]) {
    const mode = MODE[l.mode] ?? { name: l.mode, blocks: null };
    if (/^\s*CREATE\s+(UNIQUE\s+)?INDEX\b/i.test(sql) && !/\bCONCURRENTLY\b/i.test(sql) && l.mode === 'ShareLock') {
      const idx = indexName(sql);
      hits.push({
        rule: 'index-not-concurrent',
        severity: 'error',
        table: l.table,
        lock: 'SHARE',
        waits: 'writes',
        what: `CREATE INDEX${idx ? ` ${idx}` : ''} on ${l.table} takes a SHARE lock for the whole build: writes to ${l.table} wait until it is built; build it with \`postgresql_concurrently=True\` inside \`op.get_context().autocommit_block()\``,
        fix: 'build it concurrently: `with op.get_context().autocommit_block(): op.create_index(..., postgresql_concurrently=True)`',
      });
      continue;
    }
    if (e.rewritten.includes(l.table)) continue; // said above
    if (l.mode === 'AccessExclusiveLock' && /\bSET\s+NOT\s+NULL\b/i.test(sql)) {
      hits.push({
        rule: 'set-not-null-scan',
        severity: 'error',
        table: l.table,
        lock: 'ACCESS EXCLUSIVE',
        waits: 'reads and writes',
        what: `${stmt} scans every row of ${l.table} under an ACCESS EXCLUSIVE lock: reads and writes wait`,
        fix: 'add `CHECK (col IS NOT NULL) NOT VALID`, `VALIDATE CONSTRAINT` it in a later transaction, then SET NOT NULL (PostgreSQL 12+ skips the scan) and drop the CHECK',
      });
      continue;
    }
    if (/\bADD\s+(CONSTRAINT\s+\S+\s+)?(FOREIGN\s+KEY|CHECK)\b/i.test(sql) && !/\bNOT\s+VALID\b/i.test(sql) && mode.blocks) {
      hits.push({
        rule: 'validated-constraint',
        severity: 'error',
        table: l.table,
        lock: mode.name,
        waits: mode.blocks,
        what: `${stmt} checks every row of ${l.table} under a ${mode.name} lock on it: ${mode.blocks} wait`,
        fix: 'add the constraint NOT VALID, then `VALIDATE CONSTRAINT` in a later revision (it takes only a SHARE UPDATE EXCLUSIVE lock)',
      });
      continue;
    }
    if (/\bADD\s+(CONSTRAINT\s+\S+\s+)?(UNIQUE|PRIMARY\s+KEY)\b/i.test(sql) && !/\bUSING\s+INDEX\b/i.test(sql) && l.mode === 'AccessExclusiveLock') {
      hits.push({
        rule: 'unique-constraint-build',
        severity: 'error',
        table: l.table,
        lock: 'ACCESS EXCLUSIVE',
        waits: 'reads and writes',
        what: `${stmt} builds a unique index on ${l.table} under an ACCESS EXCLUSIVE lock: reads and writes wait`,
        fix: 'build the index first with `CREATE UNIQUE INDEX CONCURRENTLY` (in an autocommit_block), then `ADD CONSTRAINT ... UNIQUE USING INDEX`',
      });
      continue;
    }
    if (taken.has(l) && l.mode === 'AccessExclusiveLock' && (e.lockTimeout === '0' || e.lockTimeout === null)) {
      hits.push({
        rule: 'no-lock-timeout',
        severity: 'warning',
        table: l.table,
        lock: 'ACCESS EXCLUSIVE',
        waits: 'reads and writes, queued behind it',
        what: `${stmt} takes an ACCESS EXCLUSIVE lock on ${l.table} with no lock_timeout: behind a long query it waits, and every query on ${l.table} queues behind it`,
        fix: "set one first: `op.execute(\"SET lock_timeout = '5s'\")` (and retry the deploy if it times out)",
      });
    }
  }
  // A table met through a lock taken and one already held is said once per rule.
  const seen = new Set<string>();
  return hits.filter((h) => !seen.has(`${h.rule} ${h.table}`) && !!seen.add(`${h.rule} ${h.table}`));
}

/** The locks check from what the new revisions' steps were seen doing. */
export function judgeLocks(observed: ObservedLocks[], files: Map<string, RevisionFile>, versionTable = 'alembic_version'): CheckResult {
  const findings: Finding[] = [];
  const revisions = new Set<string>();
  for (const step of observed) {
    const file = files.get(step.revision);
    const acks = file ? acknowledgements(file.text) : [];
    const phase = `${step.phase} of ${step.revision}`;
    const push = (hit: Hit, e: LockEvent): void => {
      const ack = acks.find((a) => a.rule === hit.rule);
      const where = { revision: step.revision, ...(e.file ?? file?.file ? { file: (e.file ?? file?.file)! } : {}), ...(e.line ? { line: e.line } : {}) };
      const text = `${phase}: ${hit.what} (locks/${hit.rule})`;
      // The detail's last lines are fields the comment's table is made from (see markdown.ts).
      const fields = `Statement: ${e.sql.replace(/\s+/g, ' ').trim()}\nTable: ${hit.table}\nLock: ${hit.lock}\nWaits: ${hit.waits}`;
      if (ack && ack.reason) {
        findings.push({ severity: 'notice', ...where, message: `acknowledged: ${text}; reason: ${ack.reason}`, detail: `Acknowledged: ${ack.reason}\n${fields}` });
        return;
      }
      if (hit.severity === 'error') revisions.add(step.revision);
      const noReason = ack && !ack.reason ? `\nThe acknowledgement on line ${ack.line} gives no reason, so it does not count: write one after the colon.` : '';
      findings.push({ severity: hit.severity, ...where, message: text, detail: `Fix: ${hit.fix}.${noReason}\n${fields}` });
    };
    // A downgrade runs in production rarely, by hand: only what blocks for long is said of it.
    const said = (hit: Hit) => step.phase === 'upgrade' || hit.severity === 'error';
    for (const e of step.events) for (const hit of hitsOf(e)) if (said(hit)) push(hit, e);
    if (step.phase === 'downgrade') continue;
    // ACCESS EXCLUSIVE kept while the same transaction goes on to change data or lock other tables.
    const warned = new Set<number>();
    step.events.forEach((e) => {
      if (new RegExp(`\\b${versionTable}\\b`).test(e.sql)) return;
      const lockedElsewhere = e.locks.some((l) => MODE[l.mode]?.blocks);
      if (!isData(e.sql) && !lockedElsewhere) return;
      for (const i of e.afterExclusive) {
        const holder = step.events[i];
        if (!holder || warned.has(i)) continue;
        const tables = holder.locks.filter((l) => l.mode === 'AccessExclusiveLock').map((l) => l.table);
        if (tables.length === 0 || e.locks.every((l) => tables.includes(l.table)) && !isData(e.sql)) continue;
        warned.add(i);
        push(
          {
            rule: 'lock-held-across',
            severity: 'warning',
            table: tables[0]!,
            lock: 'ACCESS EXCLUSIVE',
            waits: 'reads and writes',
            what: `the ACCESS EXCLUSIVE lock on ${tables.join(', ')} taken by \`${firstLine(holder.sql)}\` is still held while \`${firstLine(e.sql)}\` runs: reads and writes of ${tables.join(', ')} wait for both, until the transaction commits`,
            fix: 'run the slow statement in a transaction of its own (a separate revision, or transaction_per_migration), or take the lock last',
          },
          e,
        );
      }
    });
  }
  const errors = findings.filter((f) => f.severity === 'error').length;
  const warnings = findings.filter((f) => f.severity === 'warning').length;
  const acked = findings.filter((f) => f.severity === 'notice').length;
  const tail = [warnings ? `${warnings} warning${warnings === 1 ? '' : 's'}` : '', acked ? `${acked} acknowledged` : ''].filter(Boolean).join(', ');
  return {
    id: 'locks',
    status: errors ? 'fail' : 'pass',
    summary: errors
      ? `${revisions.size} new revision${revisions.size === 1 ? '' : 's'} block${revisions.size === 1 ? 's' : ''} existing tables (${errors} finding${errors === 1 ? '' : 's'}${tail ? `; ${tail}` : ''})`
      : `no new revision blocks an existing table for long${tail ? ` (${tail})` : ''}`,
    findings,
  };
}

export const locks: CheckDefinition<'locks', typeof judgeLocks> = {
  id: 'locks',
  title: 'the locks each new revision takes, and the rewrites it causes, on tables that already exist',
  failsWhen:
    "a new revision's statement blocks a table that existed before it, as observed while it ran: a plain `CREATE INDEX` (SHARE: writes wait), a table rewrite (a volatile default, most type changes: ACCESS EXCLUSIVE), `SET NOT NULL` (scans under ACCESS EXCLUSIVE), a FOREIGN KEY or CHECK added without `NOT VALID`, `ADD UNIQUE`/`PRIMARY KEY` built in place; warnings for ACCESS EXCLUSIVE with no `lock_timeout` and for an exclusive lock held while the transaction goes on to change data",
  fixHint: 'build indexes concurrently and split rewrites and validations so existing tables are not blocked (or acknowledge one with a reason in the revision file)',
  skip: (ctx) => {
    if (!ctx.graphLoads) return NO_GRAPH;
    if (!ctx.engine.capabilities.lockIntrospection) return `needs lock introspection, which ${ctx.engine.name} does not have`;
    // The locks are observed while the round trips run.
    if (ctx.roundtrip === 'none') return 'needs the round trips (--roundtrip none)';
    if (!ctx.locksObserved) return 'off (ALEMBIC_GATE_LOCKS=off)';
    if (ctx.newRevisions === 0) return 'no new revisions';
    return null;
  },
  judge: judgeLocks,
};
