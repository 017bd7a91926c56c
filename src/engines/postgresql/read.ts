// Reads the catalogs through our own pg connection: every catalog query in one
// multi-statement string, so one round trip however large the schema. The statements are
// prepared once per session (planning them costs about as much as running them).

import type pg from 'pg';
import type { Snapshot } from '../../snapshot/model.js';
import { normalizeSnapshot } from '../../snapshot/normalize.js';
import {
  EXECUTE_SQL,
  PREPARE_DELTA_SQL,
  PREPARE_SQL,
  SNAPSHOT_QUERIES,
  type SnapshotKind,
} from './queries.js';

const COUNT = SNAPSHOT_QUERIES.length;
const DUPLICATE_PREPARED_STATEMENT = '42P05';
const INVALID_SQL_STATEMENT_NAME = '26000';

/** A catalog row as the queries return it: the model's fields plus its unit key. */
export type UnitRow = Record<string, unknown> & { _unit: string };
export type KindRows = Record<SnapshotKind, UnitRow[]>;

// Sessions (clients) in which our statements are prepared, with the number of catalog rows
// the snapshot had when they were planned.
const preparedOn = new WeakMap<pg.ClientBase, number>();
const STALE = -1; // prepared, but to be replanned on the next call

// Generic plans are made once, from the catalog statistics of that moment. A schema that
// grew several times over since (an empty database at the first revision, hundreds of
// tables later) gets fresh plans rather than ones sized for a handful of rows.
const needsReplan = (plannedRows: number, rows: number): boolean => rows > 4 * Math.max(plannedRows, 100);

const PREPARE_ALL = PREPARE_SQL + '\n' + PREPARE_DELTA_SQL;
const PREPARED_COUNT = (PREPARE_ALL.match(/^PREPARE /gm) ?? []).length;

async function runFull(client: pg.ClientBase): Promise<pg.QueryResult[]> {
  const plannedRows = preparedOn.get(client);
  if (plannedRows === STALE) return replan(client);
  if (plannedRows === undefined) {
    try {
      // First read on this session: prepare and execute in the same round trip.
      const results = (await query(client, PREPARE_ALL + '\n' + EXECUTE_SQL, PREPARED_COUNT + COUNT)).slice(PREPARED_COUNT);
      preparedOn.set(client, rowCount(results));
      return results;
    } catch (error) {
      // Prepared earlier through another wrapper of the same session: replan and execute.
      if (sqlState(error) !== DUPLICATE_PREPARED_STATEMENT) throw error;
      return replan(client);
    }
  }
  let results: pg.QueryResult[];
  try {
    results = await query(client, EXECUTE_SQL, COUNT);
  } catch (error) {
    // Someone ran DEALLOCATE ALL or DISCARD ALL on the session: prepare again.
    if (sqlState(error) !== INVALID_SQL_STATEMENT_NAME) throw error;
    preparedOn.delete(client);
    return runFull(client);
  }
  // Replanning happens on the next call, so this read costs no second round trip.
  if (needsReplan(plannedRows, rowCount(results))) preparedOn.set(client, STALE);
  return results;
}

async function replan(client: pg.ClientBase): Promise<pg.QueryResult[]> {
  // The session is ours alone (see takeSnapshot), so DEALLOCATE ALL drops only our statements.
  const sql = 'DEALLOCATE ALL;\n' + PREPARE_ALL + '\n' + EXECUTE_SQL;
  const results = (await query(client, sql, 1 + PREPARED_COUNT + COUNT)).slice(1 + PREPARED_COUNT);
  preparedOn.set(client, rowCount(results));
  return results;
}

/**
 * Runs `sql` (EXECUTEs of the statements in queries.ts) in one round trip, preparing the
 * statements on the session first if needed. Returns one result per statement.
 */
export async function executePrepared(client: pg.ClientBase, sql: string, expected: number): Promise<pg.QueryResult[]> {
  if (preparedOn.get(client) === undefined) await runFull(client);
  try {
    return await query(client, sql, expected);
  } catch (error) {
    if (sqlState(error) !== INVALID_SQL_STATEMENT_NAME) throw error;
    preparedOn.delete(client);
    await runFull(client);
    return query(client, sql, expected);
  }
}

async function query(client: pg.ClientBase, sql: string, expected: number): Promise<pg.QueryResult[]> {
  // A multi-statement simple query yields one result per statement, a single one a result.
  const raw = (await client.query(sql)) as unknown as pg.QueryResult | pg.QueryResult[];
  const results = Array.isArray(raw) ? raw : [raw];
  if (results.length !== expected) {
    throw new Error(`schema snapshot: expected ${expected} result sets, got ${results.length}; is the client a plain pg connection?`);
  }
  return results;
}

const rowCount = (results: pg.QueryResult[]): number => results.reduce((n, r) => n + r.rows.length, 0);

function sqlState(error: unknown): string | undefined {
  return typeof error === 'object' && error !== null && 'code' in error
    ? String((error as { code: unknown }).code)
    : undefined;
}

const ALL_KINDS: readonly SnapshotKind[] = SNAPSHOT_QUERIES.map(([kind]) => kind);

/**
 * Rows per kind from one result per kind in `kinds` (by default one per SNAPSHOT_QUERIES
 * entry); kinds not in the list get no rows. View text is tidied.
 */
export function kindRows(results: pg.QueryResult[], kinds: readonly SnapshotKind[] = ALL_KINDS): KindRows {
  const raw = {} as KindRows;
  for (const kind of ALL_KINDS) raw[kind] = [];
  kinds.forEach((kind, i) => {
    raw[kind] = results[i]!.rows as UnitRow[];
  });
  // pg_get_viewdef() indents by nesting depth; only the tokens matter for comparison.
  for (const v of raw.views) v.definition = String(v.definition).replace(/\s+/g, ' ').trim();
  return raw;
}

/** Every row of the current database, per kind, with unit keys. */
export async function readAllRows(client: pg.ClientBase): Promise<KindRows> {
  return kindRows(await runFull(client));
}

/** Drops the unit keys: what is left are the model's objects. */
export function stripUnits(rows: KindRows): Snapshot {
  const out = {} as Record<SnapshotKind, unknown[]>;
  for (const [kind] of SNAPSHOT_QUERIES) {
    out[kind] = rows[kind].map(({ _unit, ...o }) => o);
  }
  return out as unknown as Snapshot;
}

/**
 * Snapshot of the database `client` is connected to, in one round trip. Leaves prepared
 * statements named `alembic_gate_*` in the session for the next call. Meant for a connection
 * of its own, outside any transaction: a failed query would abort one.
 */
export async function takeSnapshot(client: pg.ClientBase): Promise<Snapshot> {
  return normalizeSnapshot(stripUnits(await readAllRows(client)));
}
