// A whole schema snapshot of one MySQL/MariaDB database from information_schema, in the
// engine-neutral model (src/snapshot/model.ts). MySQL has no schemas inside a database: every
// object's `schema` is the constant SCHEMA, which messages leave out (`users.email`).
//
// What is read, and how it is made comparable:
// - tables: ENGINE, ROW_FORMAT, the table's collation, CREATE_OPTIONS and partitioning, as one
//   text in `partitionKey` (the SQLite engine keeps its table options there too); the comment.
//   AUTO_INCREMENT counters are never read.
// - columns: COLUMN_TYPE (with INVISIBLE and an SRID folded in), nullability, the default
//   (MariaDB quotes string literals and says NULL for "no default", MySQL gives the bare value:
//   both become the literal quoted, an expression as written, no default as null) with ON UPDATE
//   folded in, AUTO_INCREMENT as `identity`, generated columns' expression and kind, the
//   collation only where it is not the table's.
// - indexes (STATISTICS): PRIMARY as a primary key constraint, unique indexes as unique
//   constraints, the rest as indexes (FK-backing ones included); column order, prefix lengths,
//   DESC, functional parts, FULLTEXT/SPATIAL/HASH, invisible/ignored.
// - foreign keys with their actions (RESTRICT reads as NO ACTION: InnoDB treats them alike),
//   CHECK constraints (MariaDB's column-level ones too), views, triggers, routines (a hash of the
//   body), MariaDB sequences.
// - the database's own name is stripped from definitions (`db`.`users` -> `users`), so two
//   databases with the same schema read the same; whitespace runs become one space.
import { createHash } from 'node:crypto';
import { emptySnapshot, type Column, type Constraint, type Index, type Routine, type Snapshot, type Table, type Trigger, type View } from '../../snapshot/model.js';
import { quoteIdent, rows, text, type Connection, type Flavor } from './client.js';

/** The schema every object of a MySQL database is in (left out of names: `users.email`). */
export const SCHEMA = 'db';

/** The version table the session leaves out (a configured one is left out by the walk). */
export const VERSION_TABLE = 'alembic_version';

type Row = Record<string, unknown>;

const collapse = (s: string): string => s.replace(/\s+/g, ' ').trim();

/** Definitions without the database's own qualifier (`db`.`t` -> `t`), whitespace collapsed. */
export function unqualified(sql: string | null, database: string): string {
  if (!sql) return '';
  const q = quoteIdent(database);
  return collapse(sql.split(`${q}.`).join(''));
}

/** An expression without the parentheses around all of it (MySQL adds them, MariaDB does not). */
export function unwrap(expr: string): string {
  let e = expr.trim();
  for (;;) {
    if (!e.startsWith('(') || !e.endsWith(')')) return e;
    let depth = 0;
    let quote: string | null = null;
    for (let i = 0; i < e.length; i++) {
      const c = e[i]!;
      if (quote) {
        if (c === '\\') i++;
        else if (c === quote) quote = null;
        continue;
      }
      if (c === "'" || c === '"' || c === '`') quote = c;
      else if (c === '(') depth++;
      else if (c === ')' && --depth === 0 && i < e.length - 1) return e; // closes before the end: (a) and (b)
    }
    e = e.slice(1, -1).trim();
  }
}

const str = (r: Row, k: string): string | null => text(r[k]);
const num = (r: Row, k: string): number | null => (r[k] === null || r[k] === undefined ? null : Number(r[k]));

// Types whose literal defaults are strings (MySQL reports them unquoted).
const QUOTED_TYPES = /^(char|varchar|tinytext|text|mediumtext|longtext|enum|set|date|time|datetime|timestamp|year|json|binary|varbinary|tinyblob|blob|mediumblob|longblob)$/i;
const CURRENT_TIMESTAMP = /^(current_timestamp|now|localtimestamp|localtime)(\(\d*\))?$/i;

/**
 * A column default in one spelling whatever the server: null for none (MariaDB's NULL),
 * literals quoted as MariaDB writes them, expressions as the server wrote them.
 */
export function normalizeDefault(raw: string | null, opts: { flavor: Flavor; extra: string; dataType: string }): string | null {
  if (raw === null) return null;
  if (opts.flavor === 'mariadb') {
    // MariaDB 10.2.7+: string literals quoted, NULL for a nullable column without a default.
    return raw === 'NULL' ? null : raw;
  }
  if (/DEFAULT_GENERATED/i.test(opts.extra) || CURRENT_TIMESTAMP.test(raw)) return raw; // an expression
  if (QUOTED_TYPES.test(opts.dataType)) return `'${raw.replace(/\\/g, '\\\\').replace(/'/g, "''")}'`;
  return raw; // numbers, b'0101'
}

const FK_ACTION = (v: string | null): string => (!v || v === 'RESTRICT' ? 'NO ACTION' : v);

function constraint(table: string, name: string, type: Constraint['type'], definition: string, comment: string | null = null): Constraint {
  return { schema: SCHEMA, table, name, type, definition, validated: true, deferrable: false, initiallyDeferred: false, onDelete: null, onUpdate: null, comment };
}

/** SELECT * of an information_schema table for `database`, or [] when this server has no such table. */
async function infoRows(conn: Connection, table: string, column: string, database: string, extra = ''): Promise<Row[]> {
  try {
    return await rows<Row>(conn, `SELECT * FROM information_schema.${table} WHERE ${column} = ?${extra}`, [database]);
  } catch (err) {
    if ((err as { errno?: number }).errno === 1109) return []; // ER_UNKNOWN_TABLE: an older server
    throw err;
  }
}

export async function readSnapshot(conn: Connection, database: string, flavor: Flavor): Promise<Snapshot> {
  const snap = emptySnapshot();
  const strip = (s: string | null): string => unqualified(s, database);
  const tableRows = await infoRows(conn, 'TABLES', 'TABLE_SCHEMA', database);
  const tables = new Map<string, Row>();
  const sequences: Row[] = [];
  for (const r of tableRows) {
    const name = str(r, 'TABLE_NAME')!;
    const type = str(r, 'TABLE_TYPE');
    if (name === VERSION_TABLE) continue;
    if (type === 'SEQUENCE') sequences.push(r);
    else if (type === 'BASE TABLE' || type === 'SYSTEM VERSIONED') tables.set(name, r);
  }

  // --- partitioning, per table ---------------------------------------------------------------
  const partitions = new Map<string, Row[]>();
  for (const r of await infoRows(conn, 'PARTITIONS', 'TABLE_SCHEMA', database, ' AND PARTITION_NAME IS NOT NULL')) {
    const t = str(r, 'TABLE_NAME')!;
    if (tables.has(t)) (partitions.get(t) ?? partitions.set(t, []).get(t)!).push(r);
  }

  for (const [name, r] of tables) {
    const options = [`ENGINE=${str(r, 'ENGINE') ?? ''}`, `ROW_FORMAT=${str(r, 'ROW_FORMAT') ?? ''}`, `COLLATE=${str(r, 'TABLE_COLLATION') ?? ''}`];
    // CREATE_OPTIONS as written, less what the fields above say already (partitioning, a
    // row_format= that is the table's row format anyway).
    const rowFormat = `row_format=${str(r, 'ROW_FORMAT') ?? ''}`.toLowerCase();
    const created = (str(r, 'CREATE_OPTIONS') ?? '')
      .split(/\s+/)
      .filter((o) => o && o !== 'partitioned' && o.toLowerCase() !== rowFormat)
      .sort();
    options.push(...created);
    if (str(r, 'TABLE_TYPE') === 'SYSTEM VERSIONED') options.push('WITH SYSTEM VERSIONING');
    const parts = partitions.get(name);
    if (parts?.length) options.push(partitionClause(parts, strip));
    const table: Table = {
      schema: SCHEMA,
      name,
      kind: 'table',
      unlogged: false,
      partitionOf: null,
      partitionBound: null,
      partitionKey: options.join(' '),
      rowSecurity: false,
      forceRowSecurity: false,
      comment: str(r, 'TABLE_COMMENT') || null,
      acl: [],
    };
    snap.tables.push(table);
  }

  // --- columns --------------------------------------------------------------------------------
  for (const r of await infoRows(conn, 'COLUMNS', 'TABLE_SCHEMA', database)) {
    const tableName = str(r, 'TABLE_NAME')!;
    const t = tables.get(tableName);
    if (!t) continue; // a view's column, or the version table's
    const extra = str(r, 'EXTRA') ?? '';
    let type = str(r, 'COLUMN_TYPE') ?? '';
    const srid = num(r, 'SRS_ID');
    if (srid !== null) type += ` SRID ${srid}`;
    if (/\bINVISIBLE\b/i.test(extra)) type += ' INVISIBLE';
    let dflt = normalizeDefault(str(r, 'COLUMN_DEFAULT'), { flavor, extra, dataType: str(r, 'DATA_TYPE') ?? '' });
    const onUpdate = /\bon update (\S+)/i.exec(extra);
    if (onUpdate) dflt = `${dflt ?? 'NULL'} ON UPDATE ${onUpdate[1]}`;
    const expression = str(r, 'GENERATION_EXPRESSION');
    const generated = expression ? `${unwrap(strip(expression))} ${/\b(STORED|PERSISTENT)\b/i.test(extra) ? 'STORED' : 'VIRTUAL'}` : null;
    const collation = str(r, 'COLLATION_NAME');
    const column: Column = {
      schema: SCHEMA,
      table: tableName,
      name: str(r, 'COLUMN_NAME')!,
      position: num(r, 'ORDINAL_POSITION') ?? 0,
      type,
      notNull: str(r, 'IS_NULLABLE') === 'NO',
      default: generated ? null : dflt,
      identity: /\bauto_increment\b/i.test(extra) ? 'AUTO_INCREMENT' : null,
      generated,
      collation: collation && collation !== str(t, 'TABLE_COLLATION') ? collation : null,
      comment: str(r, 'COLUMN_COMMENT') || null,
    };
    snap.columns.push(column);
  }

  // --- indexes: the primary key, unique constraints, plain indexes -----------------------------
  const indexes = new Map<string, Row[]>();
  for (const r of await infoRows(conn, 'STATISTICS', 'TABLE_SCHEMA', database)) {
    const t = str(r, 'TABLE_NAME')!;
    if (!tables.has(t)) continue;
    const key = `${t}\u0001${str(r, 'INDEX_NAME')}`;
    (indexes.get(key) ?? indexes.set(key, []).get(key)!).push(r);
  }
  for (const parts of indexes.values()) {
    parts.sort((a, b) => (num(a, 'SEQ_IN_INDEX') ?? 0) - (num(b, 'SEQ_IN_INDEX') ?? 0));
    const first = parts[0]!;
    const table = str(first, 'TABLE_NAME')!;
    const name = str(first, 'INDEX_NAME')!;
    const terms = parts.map((p) => {
      const column = str(p, 'COLUMN_NAME');
      let term = column ?? `(${strip(str(p, 'EXPRESSION'))})`;
      const sub = num(p, 'SUB_PART');
      if (sub !== null) term += `(${sub})`;
      if (str(p, 'COLLATION') === 'D') term += ' DESC';
      return term;
    });
    const type = str(first, 'INDEX_TYPE') ?? 'BTREE';
    let suffix = type === 'BTREE' || type === 'FULLTEXT' || type === 'SPATIAL' ? '' : ` USING ${type}`;
    if (str(first, 'IS_VISIBLE') === 'NO') suffix += ' INVISIBLE';
    if (str(first, 'IGNORED') === 'YES') suffix += ' IGNORED';
    const list = `(${terms.join(', ')})`;
    const comment = str(first, 'INDEX_COMMENT') || null;
    if (name === 'PRIMARY') {
      snap.constraints.push(constraint(table, name, 'primary key', `PRIMARY KEY ${list}${suffix}`, comment));
    } else if (Number(first.NON_UNIQUE) === 0) {
      snap.constraints.push(constraint(table, name, 'unique constraint', `UNIQUE ${list}${suffix}`, comment));
    } else {
      const kind = type === 'FULLTEXT' || type === 'SPATIAL' ? `${type} ` : '';
      const index: Index = { schema: SCHEMA, table, name, definition: `${kind}${list}${suffix}`, unique: false, predicate: null, comment };
      snap.indexes.push(index);
    }
  }

  // --- foreign keys ---------------------------------------------------------------------------
  const fkColumns = new Map<string, Row[]>();
  for (const r of await infoRows(conn, 'KEY_COLUMN_USAGE', 'TABLE_SCHEMA', database, ' AND REFERENCED_TABLE_NAME IS NOT NULL')) {
    const key = `${str(r, 'TABLE_NAME')}\u0001${str(r, 'CONSTRAINT_NAME')}`;
    (fkColumns.get(key) ?? fkColumns.set(key, []).get(key)!).push(r);
  }
  for (const r of await infoRows(conn, 'REFERENTIAL_CONSTRAINTS', 'CONSTRAINT_SCHEMA', database)) {
    const table = str(r, 'TABLE_NAME')!;
    if (!tables.has(table)) continue;
    const name = str(r, 'CONSTRAINT_NAME')!;
    const cols = (fkColumns.get(`${table}\u0001${name}`) ?? []).sort((a, b) => (num(a, 'ORDINAL_POSITION') ?? 0) - (num(b, 'ORDINAL_POSITION') ?? 0));
    const refSchema = str(cols[0] ?? {}, 'REFERENCED_TABLE_SCHEMA') ?? str(r, 'UNIQUE_CONSTRAINT_SCHEMA') ?? database;
    const refTable = str(r, 'REFERENCED_TABLE_NAME') ?? str(cols[0] ?? {}, 'REFERENCED_TABLE_NAME') ?? '?';
    const onDelete = FK_ACTION(str(r, 'DELETE_RULE'));
    const onUpdate = FK_ACTION(str(r, 'UPDATE_RULE'));
    let definition =
      `FOREIGN KEY (${cols.map((c) => str(c, 'COLUMN_NAME')).join(', ')}) REFERENCES ${refSchema === database ? '' : `${refSchema}.`}${refTable} ` +
      `(${cols.map((c) => str(c, 'REFERENCED_COLUMN_NAME')).join(', ')})`;
    if (onDelete !== 'NO ACTION') definition += ` ON DELETE ${onDelete}`;
    if (onUpdate !== 'NO ACTION') definition += ` ON UPDATE ${onUpdate}`;
    snap.constraints.push({ ...constraint(table, name, 'foreign key', definition), onDelete, onUpdate });
  }

  // --- CHECK constraints (MySQL 8.0.16+, MariaDB 10.2+) ----------------------------------------
  const checks = await infoRows(conn, 'CHECK_CONSTRAINTS', 'CONSTRAINT_SCHEMA', database);
  if (checks.length > 0) {
    // MariaDB names the table (check names are per table there); MySQL's are per database, and
    // TABLE_CONSTRAINTS says whose they are, and whether they are enforced.
    const owners = new Map<string, Row>();
    if (!('TABLE_NAME' in checks[0]!)) {
      for (const r of await infoRows(conn, 'TABLE_CONSTRAINTS', 'CONSTRAINT_SCHEMA', database, " AND CONSTRAINT_TYPE = 'CHECK'")) owners.set(str(r, 'CONSTRAINT_NAME')!, r);
    }
    for (const r of checks) {
      const name = str(r, 'CONSTRAINT_NAME')!;
      const owner = owners.get(name);
      const table = str(r, 'TABLE_NAME') ?? (owner ? str(owner, 'TABLE_NAME') : null);
      if (!table || !tables.has(table)) continue;
      const clause = strip(str(r, 'CHECK_CLAUSE'));
      const enforced = owner && str(owner, 'ENFORCED') === 'NO' ? ' NOT ENFORCED' : '';
      snap.constraints.push(constraint(table, name, 'check constraint', `CHECK (${unwrap(clause)})${enforced}`));
    }
  }

  // --- views ----------------------------------------------------------------------------------
  for (const r of await infoRows(conn, 'VIEWS', 'TABLE_SCHEMA', database)) {
    const algorithm = str(r, 'ALGORITHM');
    const check = str(r, 'CHECK_OPTION');
    const definition =
      (algorithm && algorithm !== 'UNDEFINED' ? `ALGORITHM=${algorithm} ` : '') +
      (str(r, 'SECURITY_TYPE') === 'INVOKER' ? 'SQL SECURITY INVOKER ' : '') +
      strip(str(r, 'VIEW_DEFINITION')) +
      (check && check !== 'NONE' ? ` WITH ${check} CHECK OPTION` : '');
    const view: View = { schema: SCHEMA, name: str(r, 'TABLE_NAME')!, materialized: false, definition, comment: null, acl: [] };
    snap.views.push(view);
  }

  // --- triggers -------------------------------------------------------------------------------
  for (const r of await infoRows(conn, 'TRIGGERS', 'TRIGGER_SCHEMA', database)) {
    const table = str(r, 'EVENT_OBJECT_TABLE')!;
    const order = num(r, 'ACTION_ORDER') ?? 1;
    const definition =
      `${str(r, 'ACTION_TIMING')} ${str(r, 'EVENT_MANIPULATION')} ON ${table} FOR EACH ${str(r, 'ACTION_ORIENTATION') ?? 'ROW'}` +
      `${order > 1 ? ` (order ${order})` : ''} ${strip(str(r, 'ACTION_STATEMENT'))}`;
    const trigger: Trigger = { schema: SCHEMA, table, name: str(r, 'TRIGGER_NAME')!, definition, enabled: 'ORIGIN', comment: null };
    snap.triggers.push(trigger);
  }

  // --- routines -------------------------------------------------------------------------------
  const params = new Map<string, Row[]>();
  for (const r of await infoRows(conn, 'PARAMETERS', 'SPECIFIC_SCHEMA', database, ' AND ORDINAL_POSITION > 0')) {
    const key = `${str(r, 'ROUTINE_TYPE')}\u0001${str(r, 'SPECIFIC_NAME')}`;
    (params.get(key) ?? params.set(key, []).get(key)!).push(r);
  }
  for (const r of await infoRows(conn, 'ROUTINES', 'ROUTINE_SCHEMA', database)) {
    const kind = str(r, 'ROUTINE_TYPE') === 'PROCEDURE' ? 'procedure' : 'function';
    const name = str(r, 'ROUTINE_NAME')!;
    const args = (params.get(`${str(r, 'ROUTINE_TYPE')}\u0001${str(r, 'SPECIFIC_NAME') ?? name}`) ?? [])
      .sort((a, b) => (num(a, 'ORDINAL_POSITION') ?? 0) - (num(b, 'ORDINAL_POSITION') ?? 0))
      .map((p) => `${kind === 'procedure' ? `${str(p, 'PARAMETER_MODE')} ` : ''}${str(p, 'PARAMETER_NAME')} ${str(p, 'DTD_IDENTIFIER')}`);
    const routine: Routine = {
      schema: SCHEMA,
      name,
      // No overloading in MySQL: a name is the whole identity.
      identityArguments: '',
      kind,
      arguments: args.join(', '),
      returns: kind === 'function' ? str(r, 'DTD_IDENTIFIER') : null,
      language: str(r, 'ROUTINE_BODY') ?? 'SQL',
      volatility: `${str(r, 'IS_DETERMINISTIC') === 'YES' ? 'DETERMINISTIC' : 'NOT DETERMINISTIC'} ${str(r, 'SQL_DATA_ACCESS') ?? ''}`.trim(),
      strict: false,
      securityDefiner: str(r, 'SECURITY_TYPE') === 'DEFINER',
      config: [],
      bodyHash: createHash('md5').update(strip(str(r, 'ROUTINE_DEFINITION'))).digest('hex'),
      comment: str(r, 'ROUTINE_COMMENT') || null,
    };
    snap.routines.push(routine);
  }

  // --- MariaDB sequences (a table of one row) ----------------------------------------------------
  for (const r of sequences) {
    const name = str(r, 'TABLE_NAME')!;
    const [s] = await rows<Row>(conn, `SELECT * FROM ${quoteIdent(database)}.${quoteIdent(name)}`).catch(() => [] as Row[]);
    snap.sequences.push({
      schema: SCHEMA,
      name,
      type: 'bigint',
      start: str(s ?? {}, 'start_value') ?? '',
      increment: str(s ?? {}, 'increment') ?? '',
      min: str(s ?? {}, 'minimum_value') ?? '',
      max: str(s ?? {}, 'maximum_value') ?? '',
      cache: str(s ?? {}, 'cache_size') ?? '',
      cycle: Number(s?.cycle_option ?? 0) === 1,
      ownedBy: null,
      comment: str(r, 'TABLE_COMMENT') || null,
      acl: [],
    });
  }
  return snap;
}

/** `PARTITION BY RANGE (expr) (p0 VALUES LESS THAN (10), ...)` from PARTITIONS rows. */
function partitionClause(parts: Row[], strip: (s: string | null) => string): string {
  parts.sort((a, b) => (num(a, 'PARTITION_ORDINAL_POSITION') ?? 0) - (num(b, 'PARTITION_ORDINAL_POSITION') ?? 0) || (num(a, 'SUBPARTITION_ORDINAL_POSITION') ?? 0) - (num(b, 'SUBPARTITION_ORDINAL_POSITION') ?? 0));
  const first = parts[0]!;
  const method = str(first, 'PARTITION_METHOD') ?? '';
  let clause = `PARTITION BY ${method} (${strip(str(first, 'PARTITION_EXPRESSION'))})`;
  if (str(first, 'SUBPARTITION_METHOD')) clause += ` SUBPARTITION BY ${str(first, 'SUBPARTITION_METHOD')} (${strip(str(first, 'SUBPARTITION_EXPRESSION'))})`;
  const seen = new Set<string>();
  const each: string[] = [];
  for (const p of parts) {
    const name = str(p, 'PARTITION_NAME')!;
    if (seen.has(name)) continue;
    seen.add(name);
    const desc = str(p, 'PARTITION_DESCRIPTION');
    const values = !desc ? '' : /RANGE/.test(method) ? ` VALUES LESS THAN (${desc})` : /LIST/.test(method) ? ` VALUES IN (${desc})` : '';
    each.push(`${name}${values}`);
  }
  return `${clause} (${each.join(', ')})`;
}
