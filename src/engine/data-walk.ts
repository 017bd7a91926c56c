// The `data` check: the new revisions on a copy of the base state that has rows. The copy is
// filled with synthetic rows (the engine's RowSession.seed) and/or the team's own (--seed-sql),
// then each new revision is upgraded, downgraded and upgraded again there, with the rows
// fingerprinted around each step (src/snapshot/rows.ts):
//   - an upgrade that applies to the empty database but fails here fails only because of rows;
//   - an upgrade that deletes rows or changes values of columns that existed before is named
//     (a warning: data migrations are often intended);
//   - a round trip that does not give back the rows of tables and columns that existed before
//     the upgrade loses data (an error).
// Nothing here stops the gate: every failure becomes a finding or a notice.
import { readFileSync } from 'node:fs';
import type { DatabaseTarget, SourceTree } from '../alembic/tree.js';
import type { RowSession } from '../engines/engine.js';
import { compareFingerprints, type Fingerprint, type TableChange } from '../snapshot/rows.js';

type VersionTable = { schema: string | null; name: string } | null;
import { downTarget, type RevisionNode } from '../graph/graph.js';
import { judgeData } from '../checks/data.js';
import type { CheckResult, Finding, RevisionReport } from '../report/types.js';
import { describeFailure, type StepFailure } from './steps.js';
import { targetDatabases } from './target.js';

export interface DataWalkContext {
  tree: SourceTree;
  /** The gate's own connection to a database of the copy of the base state. */
  open: (database: string) => Promise<RowSession>;
  /** The copy of the base state, for the worker. */
  copyTarget: DatabaseTarget;
  revisions: string[];
  nodes: Map<string, RevisionNode>;
  byRev: Map<string, RevisionReport>;
  stepTimeoutMs: number;
  seedRows: number;
  /** Absolute path of --seed-sql, and how the user named it. */
  seedSql?: { path: string; name: string };
  seed: number;
  versionTable: VersionTable;
}

export interface DataWalkResult {
  check: CheckResult;
  notices: string[];
  seedMs: number;
}

/** "column "sku" of relation "products" contains null values" and friends, as table/column. */
function rowError(message: string): { table?: string; column?: string } {
  const m = /column "([^"]+)" of relation "([^"]+)" contains null values/.exec(message);
  if (m) return { column: m[1], table: m[2] };
  const n = /null value in column "([^"]+)" of relation "([^"]+)"/.exec(message);
  if (n) return { column: n[1], table: n[2] };
  const t = /relation "([^"]+)"/.exec(message) ?? /table "([^"]+)"/.exec(message);
  return t ? { table: t[1] } : {};
}

function upgradeHint(message: string): string {
  if (/contains null values|null value in column/.test(message)) {
    return 'Give the column a server_default, or add it nullable, backfill it with op.execute("UPDATE ..."), then set NOT NULL with op.alter_column(..., nullable=False).';
  }
  if (/could not create unique index|duplicate key value/.test(message)) {
    return 'Existing rows break the new unique constraint or index: deduplicate them in the migration before creating it.';
  }
  if (/violates check constraint|violates foreign key constraint/.test(message)) {
    return 'Existing rows break the new constraint: fix them in the migration first, or add the constraint NOT VALID and validate it after a backfill.';
  }
  return 'The revision applies to an empty database only: make it work with the rows production has (backfill before tightening constraints or types).';
}

const LOSS_DETAIL =
  'A downgrade must give back the rows the upgrade found: recreating a table empty or rebuilding it without copying loses production data. Copy the rows (INSERT INTO ... SELECT) before dropping what holds them.';
const CHANGE_DETAIL = 'Intended for a data migration; otherwise the upgrade overwrites or deletes production data.';

/** "loses 5 of 5 rows of orders" for each table that lost rows. */
const rowsLost = (changes: TableChange[]): string[] =>
  changes.filter((c) => c.rowsGone).map((c) => (c.countOnly ? `leaves ${c.before - c.rowsGone} of ${c.before} rows of ${c.table}` : `loses ${c.rowsGone} of ${c.before} rows of ${c.table}`));

/** "changes 5 of 5 values of users.name" for each changed column `keep` accepts. */
const valuesChanged = (changes: TableChange[], keep: (column: string) => boolean = () => true): string[] =>
  changes.flatMap((c) => c.changed.filter((ch) => keep(`${c.table}.${ch.column}`)).map((ch) => `changes ${ch.count} of ${c.before} values of ${c.table}.${ch.column}`));

const changedColumns = (changes: TableChange[]): Set<string> => new Set(changes.flatMap((c) => c.changed.map((ch) => `${c.table}.${ch.column}`)));

export async function dataWalk(ctx: DataWalkContext): Promise<DataWalkResult> {
  const notices: string[] = [];
  const findings: Finding[] = [];
  let seedMs = 0;
  // Every database of the copy (multidb: one per ini section, its tables named after it).
  const all: { section?: string; rows: RowSession }[] = [];
  for (const { section, database } of targetDatabases(ctx.copyTarget)) {
    all.push({ ...(section ? { section } : {}), rows: await ctx.open(database) });
  }
  const client = all[0]!.rows;
  const fingerprintAll = async (): Promise<Fingerprint> => {
    const merged: Fingerprint = new Map();
    for (const { section, rows: c } of all) for (const [table, rows] of await c.fingerprint(ctx.versionTable)) merged.set(section ? `${section}.${table}` : table, rows);
    return merged;
  };
  const started = performance.now();
  let stoppedAt: string | null = null;
  let filledTables = 0;
  let rowsSeeded = 0;
  try {
    // --- rows at the base state ---------------------------------------------------------------
    if (ctx.seedSql) {
      let sql: string;
      try {
        sql = readFileSync(ctx.seedSql.path, 'utf8');
      } catch (err) {
        return { check: { id: 'data', status: 'error', summary: `--seed-sql ${ctx.seedSql.name} cannot be read: ${(err as Error).message}`, findings: [] }, notices, seedMs };
      }
      try {
        await client.run(sql);
      } catch (err) {
        return {
          check: {
            id: 'data',
            status: 'error',
            summary: `--seed-sql ${ctx.seedSql.name} fails at the base state: ${(err as Error).message}`,
            findings: [{ severity: 'error', file: ctx.seedSql.name, message: `${ctx.seedSql.name} fails on the base's schema: ${(err as Error).message}`, detail: 'The file is loaded after the base\'s migrations: write it for the schema the base branch has.' }],
          },
          notices,
          seedMs,
        };
      }
    }
    if (ctx.seedRows > 0) {
      for (const part of all) {
        const seeded = await part.rows.seed(ctx.seedRows, ctx.seed, ctx.versionTable);
        notices.push(...seeded.notices);
        filledTables += seeded.filled.length;
        rowsSeeded += seeded.filled.reduce((n, f) => n + f.rows, 0);
      }
    }
    seedMs = Math.round(performance.now() - started);
    let state = await fingerprintAll();
    const tablesWithRows = [...state.values()].filter((t) => t.count > 0).length;
    await ctx.tree.useDatabase(ctx.copyTarget);

    // --- each new revision, in order ------------------------------------------------------------
    for (const rev of ctx.revisions) {
      const node = ctx.nodes.get(rev)!;
      const file = ctx.byRev.get(rev)?.file;
      const steps = ctx.byRev.get(rev)?.steps ?? {};
      if (steps.upgrade && steps.upgrade.status !== 'ok') {
        stoppedAt = rev; // fails on the empty database too: upgrade has the finding
        break;
      }
      const found = (severity: 'error' | 'warning', message: string, detail?: string) =>
        findings.push({ severity, revision: rev, ...(file ? { file } : {}), message, ...(detail ? { detail } : {}) });
      const withDetail = (text: string, f: StepFailure) => `${text}${f.detail ? `\n\n${f.detail}` : ''}`;
      try {
        await ctx.tree.upgrade(rev, ctx.stepTimeoutMs);
      } catch (err) {
        const f = describeFailure(err, ctx.tree);
        const where = rowError(f.message);
        found(
          'error',
          `upgrade of ${rev} fails on a database with rows${where.table ? ` in ${where.table}` : ''}${where.column ? ` (column ${where.table}.${where.column})` : ''}, though it applies to an empty one: ${f.message.split('\n')[0]}`,
          withDetail(upgradeHint(f.message), f),
        );
        stoppedAt = rev;
        break;
      }
      const afterUp = await fingerprintAll();
      const upgradeChanges = compareFingerprints(state, afterUp);
      for (const p of [...rowsLost(upgradeChanges), ...valuesChanged(upgradeChanges)]) found('warning', `upgrade of ${rev} ${p}`, CHANGE_DETAIL);

      if (steps.downgrade && steps.downgrade.status !== 'ok') {
        state = afterUp; // no round trip on the empty database either: roundtrip has it
        continue;
      }
      try {
        await ctx.tree.downgrade(downTarget(node), ctx.stepTimeoutMs);
      } catch (err) {
        const f = describeFailure(err, ctx.tree);
        found(
          'error',
          `downgrade of ${rev} fails on a database with rows, though it works on an empty one: ${f.message.split('\n')[0]}`,
          withDetail('A downgrade must work on the rows the upgrade left (for instance, a column set back to NOT NULL needs its nulls filled first).', f),
        );
        stoppedAt = rev;
        break;
      }
      let after: Fingerprint;
      try {
        after = await fingerprintAll();
      } catch (err) {
        // The downgrade ran, and the rows it left cannot be read back: corrupted data (an enum
        // label deleted from pg_enum while rows still use it, say).
        found(
          'error',
          `after the downgrade of ${rev}, the rows of the database cannot be read: ${(err as Error).message}`,
          'The downgrade leaves rows that refer to something it removed. Change or delete those rows in the downgrade before removing what they use.',
        );
        stoppedAt = rev;
        break;
      }
      // Rows gone after the round trip are lost data. Values the upgrade changed on purpose (a
      // data migration) are its warning above; other values the downgrade changes are one more.
      const trip = compareFingerprints(state, after);
      for (const p of rowsLost(trip)) found('error', `round trip (upgrade, downgrade) of ${rev} ${p}`, LOSS_DETAIL);
      const byUpgrade = changedColumns(upgradeChanges);
      for (const p of valuesChanged(trip, (col) => !byUpgrade.has(col))) found('warning', `downgrade of ${rev} ${p}`, CHANGE_DETAIL);
      try {
        await ctx.tree.upgrade(rev, ctx.stepTimeoutMs);
      } catch (err) {
        stoppedAt = rev;
        if (steps.reupgrade && steps.reupgrade.status !== 'ok') break; // fails on the empty database too: roundtrip has it
        const f = describeFailure(err, ctx.tree);
        found('error', `upgrade of ${rev} after its downgrade fails on a database with rows: ${f.message.split('\n')[0]}`, f.detail);
        break;
      }
      state = await fingerprintAll();
    }

    const judged = judgeData({
      findings,
      newRevisions: ctx.revisions.length,
      tablesWithRows,
      seedRows: ctx.seedRows,
      rowsSeeded,
      filledTables,
      seed: ctx.seed,
      ...(ctx.seedSql ? { seedSql: ctx.seedSql.name } : {}),
      stoppedAt,
    });
    return { check: judged, notices, seedMs };
  } catch (err) {
    // The gate's own connection broke (a migration terminated it, the server went away): the
    // verdict of the other checks stands.
    return { check: { id: 'data', status: 'skip', summary: `not finished: ${(err as Error).message}`, findings }, notices, seedMs };
  } finally {
    for (const part of all) await part.rows.close();
  }
}
