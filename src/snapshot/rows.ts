// Row fingerprints for the `data` check, engine-neutral: every row of every user table as text
// per column (each engine reads its own, src/engines/<id>/). Two fingerprints compare per table
// on the columns both have: rows matched by primary key (by content when there is none), rows
// gone, values changed per column. Values are compared as text, so a type change that keeps the
// value (integer -> bigint, varchar(50) -> varchar(100)) is not a change.

/** Past this many rows a table is compared by count only. */
export const MAX_ROWS = 10_000;

export interface TableRows {
  table: string;
  columns: string[];
  primaryKey: string[] | null;
  count: number;
  /** Each row's values as text (null for NULL), in `columns` order; null past MAX_ROWS. */
  rows: (string | null)[][] | null;
}

export type Fingerprint = Map<string, TableRows>;

export interface TableChange {
  table: string;
  before: number;
  /** Rows of `before` not found afterwards (by key, or by content on the shared columns). */
  rowsGone: number;
  /** Per shared column: values changed in rows that are still there (keyed tables only). */
  changed: { column: string; count: number }[];
  /** Compared by count only (too many rows). */
  countOnly: boolean;
}

const keyOf = (row: (string | null)[], idx: number[]) => JSON.stringify(idx.map((i) => row[i]));

/**
 * What happened to the rows of tables `before` had, on the columns `after` still has. Tables
 * `after` no longer has are not reported: dropping a table is a schema change the other checks see.
 */
export function compareFingerprints(before: Fingerprint, after: Fingerprint): TableChange[] {
  const out: TableChange[] = [];
  for (const [name, b] of before) {
    const a = after.get(name);
    if (!a || b.count === 0) continue;
    if (!b.rows || !a.rows) {
      if (a.count < b.count) out.push({ table: name, before: b.count, rowsGone: b.count - a.count, changed: [], countOnly: true });
      continue;
    }
    const shared = b.columns.filter((c) => a.columns.includes(c));
    const bi = shared.map((c) => b.columns.indexOf(c));
    const ai = shared.map((c) => a.columns.indexOf(c));
    const pk = b.primaryKey && b.primaryKey.every((c) => shared.includes(c)) ? b.primaryKey : null;
    let rowsGone = 0;
    const changed = new Map<string, number>();
    if (pk) {
      const bk = pk.map((c) => b.columns.indexOf(c));
      const ak = pk.map((c) => a.columns.indexOf(c));
      const afterByKey = new Map(a.rows.map((r) => [keyOf(r, ak), r]));
      for (const row of b.rows) {
        const other = afterByKey.get(keyOf(row, bk));
        if (!other) {
          rowsGone++;
          continue;
        }
        shared.forEach((c, k) => {
          if (row[bi[k]!] !== other[ai[k]!]) changed.set(c, (changed.get(c) ?? 0) + 1);
        });
      }
    } else {
      const remaining = new Map<string, number>();
      for (const r of a.rows) remaining.set(keyOf(r, ai), (remaining.get(keyOf(r, ai)) ?? 0) + 1);
      for (const row of b.rows) {
        const k = keyOf(row, bi);
        const left = remaining.get(k) ?? 0;
        if (left > 0) remaining.set(k, left - 1);
        else rowsGone++;
      }
    }
    if (rowsGone || changed.size) {
      out.push({ table: name, before: b.count, rowsGone, changed: [...changed].map(([column, count]) => ({ column, count })), countOnly: false });
    }
  }
  return out;
}
