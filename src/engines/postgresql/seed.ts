// Synthetic rows for the `data` check: every table of the base state gets a few rows generated
// from the catalog, one INSERT ... SELECT FROM generate_series per table, parents before
// children. Values follow the column's type and length, NOT NULL, enum labels, unique columns
// (row numbers make them distinct), foreign keys (a child row points at an existing parent
// row) and simple one-column CHECKs (a list of values, bounds on a number or a text's length);
// identity, serial, generated and defaulted columns are left to the database. A table that
// cannot be filled (another CHECK or a trigger that refuses, a type we cannot make) is named in
// a notice and skipped. Deterministic: the values depend only on the seed and the row number.
import type pg from 'pg';
import { quoteIdent } from './client.js';

export interface SeedColumn {
  name: string;
  /** format_type(atttypid, atttypmod), e.g. "character varying(50)". */
  type: string;
  /** The base type's name (pg_type.typname), domains and arrays resolved to their element. */
  baseType: string;
  typmod: number;
  notNull: boolean;
  /** Filled by the database: a default, identity or generated column. */
  databaseFills: boolean;
  enumLabels: string[] | null;
  isArray: boolean;
  /** What the column's simple CHECK constraints allow (see parseCheck); absent: no such constraint. */
  check?: ColumnCheck;
}

/** The part of a one-column CHECK constraint seeding can satisfy. */
export interface ColumnCheck {
  /** `col IN (...)` / `col = ANY (ARRAY[...])`: the allowed values, as text. */
  values?: string[];
  /** Bounds of a number: `col > 0`, `col BETWEEN 1 AND 10` (inclusive, after rounding). */
  min?: number;
  max?: number;
  /** Bounds of a text's length: `length(col) <= 4`, `char_length(col) > 0`. */
  minLength?: number;
  maxLength?: number;
}

const NUMBER = String.raw`\(?(-?\d+(?:\.\d+)?)\)?(?:::[\w ]+)?`;

/**
 * The simple shapes of pg_get_constraintdef for a CHECK on one column: a list of values, and
 * ANDed comparisons of the column or its length with numbers. Anything else: undefined (the
 * rows are tried as they are, and a refusal is a notice).
 */
export function parseCheck(def: string, column: string): ColumnCheck | undefined {
  const body = def.replace(/^CHECK\s*/, '').replace(/\s+NOT VALID$/, '');
  const col = String.raw`\(*"?${column.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}"?\)*(?:::[\w ]+)?`;
  const list = new RegExp(String.raw`^\(*${col} = ANY \(+ARRAY\[(.*)\]\)*(?:::[\w ]+\[\])?\)*$`).exec(body);
  if (list) {
    const values = [...list[1]!.matchAll(/'((?:[^']|'')*)'(?:::[\w ]+)?/g)].map((m) => m[1]!.replace(/''/g, "'"));
    return values.length ? { values } : undefined;
  }
  const out: ColumnCheck = {};
  const parts = body.replace(/^\((.*)\)$/, '$1').split(/\) AND \(/);
  for (const raw of parts) {
    const part = raw.replace(/^\(+|\)+$/g, '');
    const len = new RegExp(String.raw`^(?:char_length|length|character_length)\(${col}\) (>=|>|<=|<) ${NUMBER}$`).exec(`${part.replace(/^\(+/, '')}`);
    const cmp = new RegExp(String.raw`^${col} (>=|>|<=|<) ${NUMBER}$`).exec(part);
    const m = len ?? cmp;
    if (!m) return undefined;
    const n = Number(m[2]);
    const [lo, hi] = len ? ['minLength', 'maxLength'] as const : ['min', 'max'] as const;
    if (m[1] === '>') out[lo] = Math.max(out[lo] ?? -Infinity, Math.floor(n) + 1);
    if (m[1] === '>=') out[lo] = Math.max(out[lo] ?? -Infinity, Math.ceil(n));
    if (m[1] === '<') out[hi] = Math.min(out[hi] ?? Infinity, Math.ceil(n) - 1);
    if (m[1] === '<=') out[hi] = Math.min(out[hi] ?? Infinity, Math.floor(n));
  }
  return Object.keys(out).length ? out : undefined;
}

export interface SeedForeignKey {
  columns: string[];
  refSchema: string;
  refTable: string;
  refColumns: string[];
}

export interface SeedTable {
  schema: string;
  name: string;
  columns: SeedColumn[];
  foreignKeys: SeedForeignKey[];
}

export interface SeedResult {
  /** Tables filled, with the rows each got. */
  filled: { table: string; rows: number }[];
  /** Why some tables got no rows. */
  notices: string[];
  ms: number;
}

const qualified = (schema: string, name: string) => `${quoteIdent(schema)}.${quoteIdent(name)}`;

/**
 * The tables rows live in, for a query over pg_class c joined with pg_namespace n: ordinary and
 * partitioned tables (not their partitions), outside the system schemas, not owned by an extension.
 */
export const USER_TABLES = `c.relkind IN ('r', 'p') AND NOT c.relispartition
       AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%' AND n.nspname NOT LIKE 'pg_temp%'
       AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')`;

export type VersionTable = { schema: string | null; name: string } | null;

/** Whether schema.table is the configured Alembic version table (never seeded nor compared). */
export const isVersionTable = (v: VersionTable, schema: string, table: string): boolean => !!v && v.name === table && (v.schema ?? 'public') === schema;
export const tableName = (t: { schema: string; name: string }) => (t.schema === 'public' ? t.name : `${t.schema}.${t.name}`);

/** The user tables of the connected database (not the version table, not extension-owned). */
export async function readSeedTables(client: pg.Client, versionTable: VersionTable): Promise<SeedTable[]> {
  const cols = await client.query<{
    schema: string; table: string; name: string; type: string; base_type: string; typmod: number;
    not_null: boolean; fills: boolean; labels: string[] | null; is_array: boolean;
  }>(`
    SELECT n.nspname AS schema, c.relname AS table, a.attname AS name,
           format_type(a.atttypid, a.atttypmod) AS type,
           bt.typname AS base_type,
           CASE WHEN t.typtype = 'd' THEN t.typtypmod ELSE a.atttypmod END AS typmod,
           (a.attnotnull OR (t.typtype = 'd' AND t.typnotnull)) AS not_null,
           (a.atthasdef OR a.attidentity <> '' OR a.attgenerated <> '') AS fills,
           (SELECT array_agg(e.enumlabel::text ORDER BY e.enumsortorder) FROM pg_enum e WHERE e.enumtypid = et.oid) AS labels,
           (et.typcategory = 'A') AS is_array
      FROM pg_class c
      JOIN pg_namespace n ON n.oid = c.relnamespace
      JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
      JOIN pg_type t ON t.oid = a.atttypid
      JOIN pg_type et ON et.oid = CASE WHEN t.typtype = 'd' THEN t.typbasetype ELSE t.oid END
      JOIN pg_type bt ON bt.oid = CASE WHEN et.typelem <> 0 AND et.typcategory = 'A' THEN et.typelem ELSE et.oid END
     WHERE ${USER_TABLES}
     ORDER BY 1, 2, a.attnum`);
  const fks = await client.query<{ schema: string; table: string; columns: string[]; ref_schema: string; ref_table: string; ref_columns: string[] }>(`
    SELECT n.nspname AS schema, c.relname AS table,
           ARRAY(SELECT a.attname::text FROM unnest(k.conkey) WITH ORDINALITY u(n, i) JOIN pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = u.n ORDER BY u.i) AS columns,
           rn.nspname AS ref_schema, rc.relname AS ref_table,
           ARRAY(SELECT a.attname::text FROM unnest(k.confkey) WITH ORDINALITY u(n, i) JOIN pg_attribute a ON a.attrelid = k.confrelid AND a.attnum = u.n ORDER BY u.i) AS ref_columns
      FROM pg_constraint k
      JOIN pg_class c ON c.oid = k.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace
      JOIN pg_class rc ON rc.oid = k.confrelid JOIN pg_namespace rn ON rn.oid = rc.relnamespace
     WHERE k.contype = 'f'`);
  const checks = await client.query<{ schema: string; table: string; column: string; def: string }>(`
    SELECT n.nspname AS schema, c.relname AS table, a.attname AS column, pg_get_constraintdef(k.oid) AS def
      FROM pg_constraint k
      JOIN pg_class c ON c.oid = k.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace
      JOIN pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = k.conkey[1]
     WHERE k.contype = 'c' AND cardinality(k.conkey) = 1`);
  const checkOf = new Map<string, ColumnCheck>();
  for (const k of checks.rows) {
    const parsed = parseCheck(k.def, k.column);
    if (!parsed) continue;
    const key = `${k.schema}.${k.table}.${k.column}`;
    const prev = checkOf.get(key);
    checkOf.set(key, prev ? { ...prev, ...parsed } : parsed);
  }
  const tables = new Map<string, SeedTable>();
  for (const r of cols.rows) {
    if (isVersionTable(versionTable, r.schema, r.table)) continue;
    const key = `${r.schema}.${r.table}`;
    if (!tables.has(key)) tables.set(key, { schema: r.schema, name: r.table, columns: [], foreignKeys: [] });
    tables.get(key)!.columns.push({
      name: r.name, type: r.type, baseType: r.base_type, typmod: r.typmod,
      notNull: r.not_null, databaseFills: r.fills, enumLabels: r.labels, isArray: r.is_array,
      ...(checkOf.has(`${key}.${r.name}`) ? { check: checkOf.get(`${key}.${r.name}`) } : {}),
    });
  }
  for (const f of fks.rows) {
    tables.get(`${f.schema}.${f.table}`)?.foreignKeys.push({ columns: f.columns, refSchema: f.ref_schema, refTable: f.ref_table, refColumns: f.ref_columns });
  }
  return [...tables.values()];
}

/** Parents before children; a cycle is broken where it is met (its nullable references stay null). */
export function fillOrder(tables: SeedTable[]): SeedTable[] {
  const byKey = new Map(tables.map((t) => [`${t.schema}.${t.name}`, t]));
  const done = new Set<string>();
  const visiting = new Set<string>();
  const out: SeedTable[] = [];
  const visit = (t: SeedTable) => {
    const key = `${t.schema}.${t.name}`;
    if (done.has(key) || visiting.has(key)) return;
    visiting.add(key);
    for (const fk of t.foreignKeys) {
      const parent = byKey.get(`${fk.refSchema}.${fk.refTable}`);
      if (parent && parent !== t) visit(parent);
    }
    visiting.delete(key);
    done.add(key);
    out.push(t);
  };
  for (const t of [...tables].sort((a, b) => `${a.schema}.${a.name}`.localeCompare(`${b.schema}.${b.name}`))) visit(t);
  return out;
}

const literal = (s: string) => `'${s.replace(/'/g, "''")}'`;

/** A SQL expression of row number `g` (1..n) for one column, or null when we cannot make one. */
export function valueExpression(col: SeedColumn, table: string, seed: number): string | null {
  const tag = `${seed}:${table}.${col.name}`;
  // A text unique per (seed, column, row): md5 of the tag and the row number.
  const hash = `md5(${literal(tag)} || g::text)`;
  let scalar: string | null;
  const check = col.check;
  if (check?.values?.length) {
    // The values the CHECK lists, in turn (cast below like any other value).
    scalar = `(ARRAY[${check.values.map(literal).join(', ')}])[1 + (g - 1) % ${check.values.length}]`;
  } else if (col.enumLabels && col.enumLabels.length) {
    scalar = `(${`ARRAY[${col.enumLabels.map(literal).join(', ')}]`})[1 + (g - 1) % ${col.enumLabels.length}]`;
  } else {
    switch (col.baseType) {
      case 'int2': scalar = `(g % 32000)`; break;
      case 'int4': case 'int8': case 'oid': scalar = `g`; break;
      case 'numeric': {
        // numeric(p, s): keep under 10^(p-s)
        const mod = col.typmod > 0 ? ((col.typmod - 4) >> 16) - ((col.typmod - 4) & 0xffff) : 9;
        scalar = mod >= 6 ? `g` : `(g % ${10 ** Math.max(mod, 1)})`;
        break;
      }
      case 'float4': case 'float8': scalar = `(g + 0.5)`; break;
      case 'money': scalar = `(g::numeric)`; break;
      case 'bool': scalar = `(g % 2 = 0)`; break;
      case 'text': case 'citext': case 'name': scalar = `('${col.name.replace(/'/g, "''")}-' || g::text || '-' || left(${hash}, 8))`; break;
      case 'varchar': case 'bpchar': {
        const len = col.typmod > 4 ? col.typmod - 4 : 0;
        // Short columns get the hash only (still distinct per row, as far as their length allows).
        scalar = len && len < 24 ? `left(${hash}, ${len})` : `left('${col.name.replace(/'/g, "''")}-' || g::text || '-' || ${hash}, ${len || 64})`;
        break;
      }
      case 'uuid': scalar = `(${hash})::uuid`; break;
      case 'date': scalar = `(date '2020-01-01' + g)`; break;
      case 'timestamp': case 'timestamptz': scalar = `(timestamp '2020-01-01 00:00:00' + g * interval '1 hour')`; break;
      case 'time': case 'timetz': scalar = `(time '00:00' + g * interval '1 second')`; break;
      case 'interval': scalar = `(g * interval '1 minute')`; break;
      case 'json': case 'jsonb': scalar = `json_build_object('n', g)`; break;
      case 'bytea': scalar = `convert_to(${hash}, 'UTF8')`; break;
      case 'inet': case 'cidr': scalar = `('10.' || (g / 65536 % 256) || '.' || (g / 256 % 256) || '.' || (g % 256))::inet`; break;
      case 'macaddr': scalar = `('08:00:2b:' || lpad(to_hex(g / 65536 % 256), 2, '0') || ':' || lpad(to_hex(g / 256 % 256), 2, '0') || ':' || lpad(to_hex(g % 256), 2, '0'))::macaddr`; break;
      case 'bit': case 'varbit': scalar = `(g % 2)::bit(1)`; break;
      case 'xml': scalar = `('<n>' || g || '</n>')::xml`; break;
      case 'tsvector': scalar = `to_tsvector('simple', 'row ' || g)`; break;
      default: scalar = null;
    }
  }
  if (scalar === null) return null;
  if (check && !check.values) scalar = withinBounds(scalar, col, check);
  if (col.isArray) return `ARRAY[${scalar}]::${col.type}`;
  return `(${scalar})::${col.type}`;
}

const NUMERIC_TYPES = new Set(['int2', 'int4', 'int8', 'numeric', 'float4', 'float8', 'money', 'oid']);
const TEXT_TYPES = new Set(['text', 'citext', 'name', 'varchar', 'bpchar']);

/** A value expression brought inside a CHECK's bounds: numbers into [min, max], texts to a length. */
function withinBounds(scalar: string, col: SeedColumn, check: ColumnCheck): string {
  if (NUMERIC_TYPES.has(col.baseType) && (check.min !== undefined || check.max !== undefined)) {
    const lo = check.min ?? (check.max! >= 1 ? 1 : check.max! - 1000);
    if (check.max === undefined) return `(${lo} + g - 1)`;
    const span = Math.max(check.max - lo + 1, 1);
    return `(${lo} + (g - 1) % ${span})`;
  }
  if (TEXT_TYPES.has(col.baseType) && (check.minLength !== undefined || check.maxLength !== undefined)) {
    const max = check.maxLength ?? Infinity;
    const min = Math.min(check.minLength ?? 0, max);
    let out = Number.isFinite(max) ? `left(${scalar}, ${Math.max(max, 0)})` : scalar;
    if (min > 0) out = `rpad(${out}, ${min}, 'x')`;
    return out;
  }
  return scalar;
}

/**
 * The INSERT for one table, or the reason it cannot be written. Foreign-key columns take the
 * referenced columns of an existing parent row (row g takes parent row (g - 1) % parents + 1).
 */
export function insertStatement(t: SeedTable, rows: number, seed: number): { sql: string } | { reason: string } {
  const fkOf = new Map<string, { fk: SeedForeignKey; index: number }>();
  for (const fk of t.foreignKeys) fk.columns.forEach((c, index) => fkOf.has(c) || fkOf.set(c, { fk, index }));
  const names: string[] = [];
  const exprs: string[] = [];
  for (const col of t.columns) {
    const ref = fkOf.get(col.name);
    if (ref) {
      const self = ref.fk.refSchema === t.schema && ref.fk.refTable === t.name;
      if (self) {
        if (col.notNull) return { reason: `${col.name} must reference a row of the same table` };
        continue; // null: the first rows of a self-referencing table have no parent
      }
      const parent = qualified(ref.fk.refSchema, ref.fk.refTable);
      const refCol = quoteIdent(ref.fk.refColumns[ref.index]!);
      names.push(quoteIdent(col.name));
      // Every column of a composite key picks the same parent row: one order over all of them.
      const order = ref.fk.refColumns.map((c) => `p.${quoteIdent(c)}`).join(', ');
      exprs.push(`(SELECT p.${refCol} FROM ${parent} p WHERE p.${refCol} IS NOT NULL ORDER BY ${order} OFFSET (g - 1) % GREATEST((SELECT count(*) FROM ${parent}), 1) LIMIT 1)`);
      continue;
    }
    if (col.databaseFills) continue;
    const expr = valueExpression(col, tableName(t), seed);
    if (expr === null) {
      if (col.notNull) return { reason: `no value can be made for ${col.name} (${col.type})` };
      continue; // nullable: left null
    }
    names.push(quoteIdent(col.name));
    exprs.push(expr);
  }
  const target = qualified(t.schema, t.name);
  if (!names.length) return { sql: `INSERT INTO ${target} SELECT FROM generate_series(1, ${rows}) g` }; // DEFAULT VALUES, n times
  return { sql: `INSERT INTO ${target} (${names.join(', ')}) SELECT ${exprs.join(', ')} FROM generate_series(1, ${rows}) g` };
}

/** Fills every table; each table in its own savepoint, so one refusal does not undo the rest. */
export async function seedTables(client: pg.Client, tables: SeedTable[], rows: number, seed: number): Promise<SeedResult> {
  const started = performance.now();
  const filled: SeedResult['filled'] = [];
  const notices: string[] = [];
  await client.query('BEGIN');
  try {
    for (const t of fillOrder(tables)) {
      const stmt = insertStatement(t, rows, seed);
      if ('reason' in stmt) {
        notices.push(`data: table ${tableName(t)} got no synthetic rows: ${stmt.reason}`);
        continue;
      }
      await client.query('SAVEPOINT seed');
      try {
        const res = await client.query(stmt.sql);
        await client.query('RELEASE SAVEPOINT seed');
        filled.push({ table: tableName(t), rows: res.rowCount ?? rows });
      } catch (err) {
        await client.query('ROLLBACK TO SAVEPOINT seed');
        notices.push(`data: table ${tableName(t)} got no synthetic rows: ${(err as Error).message}`);
      }
    }
    await client.query('COMMIT');
  } catch (err) {
    await client.query('ROLLBACK').catch(() => {});
    throw err;
  }
  return { filled, notices, ms: Math.round(performance.now() - started) };
}
