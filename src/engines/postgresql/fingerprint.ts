// Row fingerprints for the `data` check (see snapshot/rows.ts), read from PostgreSQL: every row
// of every user table, as text per column, in one query. Two fingerprints compare per table on the columns both have: rows matched by
// primary key (by content when there is none), rows gone, values changed per column. Values are
// compared as text, so a type change that keeps the value (integer -> bigint, varchar(50) ->
// varchar(100)) is not a change.
import type pg from 'pg';
import { quoteIdent } from './client.js';
import { isVersionTable, tableName, USER_TABLES, type VersionTable } from './seed.js';
import { MAX_ROWS, type Fingerprint } from '../../snapshot/rows.js';

export async function fingerprint(client: pg.Client, versionTable: VersionTable): Promise<Fingerprint> {
  const layout = await client.query<{ schema: string; table: string; columns: string[]; pk: string[] | null }>(`
    SELECT n.nspname AS schema, c.relname AS table,
           ARRAY(SELECT a.attname::text FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum) AS columns,
           (SELECT ARRAY(SELECT a.attname::text FROM unnest(i.indkey) WITH ORDINALITY u(n, o) JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = u.n ORDER BY u.o)
              FROM pg_index i WHERE i.indrelid = c.oid AND i.indisprimary) AS pk
      FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE ${USER_TABLES}
     ORDER BY 1, 2`);
  const tables = layout.rows.filter((t) => !isVersionTable(versionTable, t.schema, t.table));
  const out: Fingerprint = new Map();
  if (!tables.length) return out;
  const parts = tables.map((t, i) => {
    const rel = `${quoteIdent(t.schema)}.${quoteIdent(t.table)}`;
    const values = t.columns.length ? t.columns.map((c) => `x.${quoteIdent(c)}::text`).join(', ') : '';
    return `SELECT ${i} AS i, (SELECT count(*) FROM ${rel}) AS n, (SELECT json_agg(json_build_array(${values})) FROM (SELECT * FROM ${rel} LIMIT ${MAX_ROWS + 1}) x) AS rows`;
  });
  const res = await client.query<{ i: number; n: string; rows: (string | null)[][] | null }>(parts.join('\nUNION ALL\n'));
  for (const r of res.rows) {
    const t = tables[r.i]!;
    const count = Number(r.n);
    out.set(tableName({ schema: t.schema, name: t.table }), {
      table: tableName({ schema: t.schema, name: t.table }),
      columns: t.columns,
      primaryKey: t.pk && t.pk.length ? t.pk : null,
      count,
      rows: count > MAX_ROWS ? null : (r.rows ?? []),
    });
  }
  return out;
}
