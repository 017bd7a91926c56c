// Reads a snapshot of the current database through our own pg connection: every catalog
// query in one multi-statement string, so one round trip however large the schema.

import type pg from 'pg';
import type { Snapshot } from './model.js';
import { normalizeSnapshot } from './normalize.js';
import { DEALLOCATE_SQL, EXECUTE_SQL, PREPARE_SQL, SNAPSHOT_QUERIES } from './queries.js';

const COUNT = SNAPSHOT_QUERIES.length;
const DUPLICATE_PREPARED_STATEMENT = '42P05';
const INVALID_SQL_STATEMENT_NAME = '26000';

// Sessions (clients) in which our statements are prepared, with the number of catalog rows
// the snapshot had when they were planned.
const preparedOn = new WeakMap<pg.ClientBase, number>();
const STALE = -1; // prepared, but to be replanned on the next call

// Generic plans are made once, from the catalog statistics of that moment. A schema that
// grew several times over since (an empty database at the first revision, hundreds of
// tables later) gets fresh plans rather than ones sized for a handful of rows.
const needsReplan = (plannedRows: number, rows: number): boolean => rows > 4 * Math.max(plannedRows, 100);

async function runQueries(client: pg.ClientBase): Promise<pg.QueryResult[]> {
  const plannedRows = preparedOn.get(client);
  if (plannedRows === undefined) {
    try {
      // First snapshot on this session: prepare and execute in the same round trip.
      const results = (await query(client, PREPARE_SQL + '\n' + EXECUTE_SQL, 2 * COUNT)).slice(COUNT);
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
    return runQueries(client);
  }
  // Replanning happens on the next call, so this snapshot costs no second round trip.
  if (needsReplan(plannedRows, rowCount(results))) preparedOn.set(client, STALE);
  return results;
}

async function replan(client: pg.ClientBase): Promise<pg.QueryResult[]> {
  const sql = DEALLOCATE_SQL + '\n' + PREPARE_SQL + '\n' + EXECUTE_SQL;
  const results = (await query(client, sql, 3 * COUNT)).slice(2 * COUNT);
  preparedOn.set(client, rowCount(results));
  return results;
}

async function query(client: pg.ClientBase, sql: string, expected: number): Promise<pg.QueryResult[]> {
  // A multi-statement simple query yields one result per statement.
  const results = (await client.query(sql)) as unknown as pg.QueryResult[];
  if (!Array.isArray(results) || results.length !== expected) {
    throw new Error(
      `schema snapshot: expected ${expected} result sets, got ` +
        `${Array.isArray(results) ? results.length : 1}; is the client a plain pg connection?`,
    );
  }
  return results;
}

const rowCount = (results: pg.QueryResult[]): number => results.reduce((n, r) => n + r.rows.length, 0);

function sqlState(error: unknown): string | undefined {
  return typeof error === 'object' && error !== null && 'code' in error
    ? String((error as { code: unknown }).code)
    : undefined;
}

/**
 * Snapshot of the database `client` is connected to, in one round trip. Leaves prepared
 * statements named `alembic_gate_snapshot_*` in the session for the next call. Meant for
 * a connection of its own, outside any transaction: a failed query would abort one.
 */
export async function takeSnapshot(client: pg.ClientBase): Promise<Snapshot> {
  const results = preparedOn.get(client) === STALE ? await replan(client) : await runQueries(client);
  const raw: Record<string, unknown[]> = {};
  SNAPSHOT_QUERIES.forEach(([kind], i) => {
    raw[kind] = results[i]!.rows;
  });
  const snapshot = raw as unknown as Snapshot;
  // pg_get_viewdef() indents by nesting depth; only the tokens matter for comparison.
  for (const v of snapshot.views) v.definition = v.definition.replace(/\s+/g, ' ').trim();
  return normalizeSnapshot(snapshot);
}
