// Reads a snapshot of the current database through our own pg connection: every catalog
// query in one multi-statement string, so one round trip however large the schema.

import type pg from 'pg';
import type { Snapshot } from './model.js';
import { normalizeSnapshot } from './normalize.js';
import { SNAPSHOT_QUERIES, SNAPSHOT_SQL } from './queries.js';

export async function takeSnapshot(client: pg.ClientBase): Promise<Snapshot> {
  // A multi-statement simple query yields one result per statement.
  const results = (await client.query(SNAPSHOT_SQL)) as unknown as pg.QueryResult[];
  if (!Array.isArray(results) || results.length !== SNAPSHOT_QUERIES.length) {
    throw new Error(
      `schema snapshot: expected ${SNAPSHOT_QUERIES.length} result sets, got ` +
        `${Array.isArray(results) ? results.length : 1}; is the client a plain pg connection?`,
    );
  }
  const raw: Record<string, unknown[]> = {};
  SNAPSHOT_QUERIES.forEach(([kind], i) => {
    raw[kind] = results[i]!.rows;
  });
  const snapshot = raw as unknown as Snapshot;
  // pg_get_viewdef() indents by nesting depth; only the tokens matter for comparison.
  for (const v of snapshot.views) v.definition = v.definition.replace(/\s+/g, ' ').trim();
  return normalizeSnapshot(snapshot);
}
