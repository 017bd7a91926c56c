// Reads a snapshot of the current database through our own pg connection: every catalog
// query in one prepared statement returning one JSON document, so one round trip however
// large the schema.

import type pg from 'pg';
import type { Snapshot } from './model.js';
import { normalizeSnapshot } from './normalize.js';
import { DEALLOCATE_SQL, EXECUTE_SQL, PREPARE_SQL, SNAPSHOT_QUERIES } from './queries.js';

const DUPLICATE_PREPARED_STATEMENT = '42P05';
const INVALID_SQL_STATEMENT_NAME = '26000';

// Sessions (clients) in which our statement is prepared, with the number of catalog rows
// the snapshot had when it was planned.
const preparedOn = new WeakMap<pg.ClientBase, number>();
const STALE = -1; // prepared, but to be replanned on the next call

// Generic plans are made once, from the catalog statistics of that moment. A schema that
// grew several times over since (an empty database at the first revision, hundreds of
// tables later) gets fresh plans rather than ones sized for a handful of rows.
const needsReplan = (plannedRows: number, rows: number): boolean => rows > 4 * Math.max(plannedRows, 100);

type Raw = Record<string, unknown[]>;

async function runQuery(client: pg.ClientBase): Promise<Raw> {
  const plannedRows = preparedOn.get(client);
  if (plannedRows === undefined) {
    try {
      // First snapshot on this session: prepare and execute in the same round trip.
      const raw = await query(client, PREPARE_SQL + '\n' + EXECUTE_SQL, 2);
      preparedOn.set(client, rowCount(raw));
      return raw;
    } catch (error) {
      // Prepared earlier through another wrapper of the same session: replan and execute.
      if (sqlState(error) !== DUPLICATE_PREPARED_STATEMENT) throw error;
      return replan(client);
    }
  }
  let raw: Raw;
  try {
    raw = await query(client, EXECUTE_SQL, 1);
  } catch (error) {
    // Someone ran DEALLOCATE ALL or DISCARD ALL on the session: prepare again.
    if (sqlState(error) !== INVALID_SQL_STATEMENT_NAME) throw error;
    preparedOn.delete(client);
    return runQuery(client);
  }
  // Replanning happens on the next call, so this snapshot costs no second round trip.
  if (needsReplan(plannedRows, rowCount(raw))) preparedOn.set(client, STALE);
  return raw;
}

async function replan(client: pg.ClientBase): Promise<Raw> {
  const raw = await query(client, DEALLOCATE_SQL + '\n' + PREPARE_SQL + '\n' + EXECUTE_SQL, 3);
  preparedOn.set(client, rowCount(raw));
  return raw;
}

/** Sends `sql` (`statements` statements, the last the EXECUTE) and parses its one value. */
async function query(client: pg.ClientBase, sql: string, statements: number): Promise<Raw> {
  // A multi-statement simple query yields one result per statement; a single one, a result.
  const result = (await client.query({ text: sql, rowMode: 'array' })) as unknown as
    | pg.QueryResult<unknown[]>
    | pg.QueryResult<unknown[]>[];
  const results = Array.isArray(result) ? result : [result];
  const last = results[results.length - 1];
  const value = last?.rows?.[0]?.[0];
  if (results.length !== statements || typeof value !== 'string') {
    throw new Error(
      `schema snapshot: expected ${statements} result set(s) ending in one text value, got ` +
        `${results.length}; is the client a plain pg connection?`,
    );
  }
  return JSON.parse(value) as Raw;
}

const rowCount = (raw: Raw): number => SNAPSHOT_QUERIES.reduce((n, [kind]) => n + raw[kind]!.length, 0);

function sqlState(error: unknown): string | undefined {
  return typeof error === 'object' && error !== null && 'code' in error
    ? String((error as { code: unknown }).code)
    : undefined;
}

/**
 * Snapshot of the database `client` is connected to, in one round trip. Leaves a prepared
 * statement named `alembic_gate_snapshot` in the session for the next call. Meant for a
 * connection of its own, outside any transaction: a failed query would abort one.
 */
export async function takeSnapshot(client: pg.ClientBase): Promise<Snapshot> {
  const snapshot = (preparedOn.get(client) === STALE ? await replan(client) : await runQuery(client)) as unknown as Snapshot;
  // pg_get_viewdef() indents by nesting depth; only the tokens matter for comparison.
  for (const v of snapshot.views) v.definition = v.definition.replace(/\s+/g, ' ').trim();
  return normalizeSnapshot(snapshot);
}
