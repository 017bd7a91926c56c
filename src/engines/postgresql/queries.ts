// One catalog query per object kind. takeSnapshot() joins them into one multi-statement
// string so a snapshot costs one round trip. Each query returns rows whose column names are
// the model's field names (model.ts), with types pg maps directly (text, bool, int2, text[]).
//
// Shared rules:
// - user schemas only: not pg_catalog, information_schema, pg_toast*, pg_temp*;
// - nothing that belongs to an extension (pg_depend.deptype = 'e');
// - nothing on the alembic_version table;
// - NULL acls replaced by acldefault(), so GRANT followed by REVOKE compares equal to never granting.

/** The schema holding the gate's own change tracking (see tracker.ts): never part of a snapshot. */
export const INTERNAL_SCHEMA = 'alembic_gate_internal';

const USER_SCHEMA = (n: string): string =>
  `${n}.nspname NOT IN ('pg_catalog', 'information_schema', '${INTERNAL_SCHEMA}') ` +
  `AND ${n}.nspname NOT LIKE 'pg\\_toast%' AND ${n}.nspname NOT LIKE 'pg\\_temp%'`;

// Extension membership is recorded as a dependency (deptype 'e') of the member on its
// pg_extension row, so the members are a short range of pg_depend_reference_index: one
// hashed set per query, probed per row, instead of one pg_depend index scan per row.
const NOT_IN_EXTENSION = (catalog: string, oid: string): string =>
  `${oid} NOT IN (SELECT x.objid FROM pg_depend x WHERE x.refclassid = 'pg_extension'::regclass ` +
  `AND x.classid = '${catalog}'::regclass AND x.deptype = 'e')`;

// A scalar subquery, not a LEFT JOIN: the planner misjudges pg_description's size and
// picks a nested loop over all of it per row (measured 13 ms for 1200 columns vs 1 ms).
const COMMENT = (catalog: string, oid: string, sub = '0'): string =>
  `(SELECT d.description FROM pg_description d WHERE d.objoid = ${oid} ` +
  `AND d.classoid = '${catalog}'::regclass AND d.objsubid = ${sub}) AS comment`;

// The same for objects that are never initdb's own (see USER_OID): most have no comment,
// so the lookup runs only for those in a hashed set of the user comments of the catalog
// (an oid index range scan of pg_description, once per query).
const USER_COMMENT = (catalog: string, oid: string, sub = '0'): string =>
  `CASE WHEN (${oid}, ${sub}) IN (SELECT d.objoid, d.objsubid FROM pg_description d ` +
  `WHERE d.objoid >= 16384::oid AND d.classoid = '${catalog}'::regclass) THEN ` +
  `(SELECT d.description FROM pg_description d WHERE d.objoid = ${oid} ` +
  `AND d.classoid = '${catalog}'::regclass AND d.objsubid = ${sub}) END AS comment`;

// Sorted by normalizeSnapshot(), not here: a per-row sort subplan costs more.
const ACL = (acl: string, type: string, owner: string): string =>
  `coalesce(${acl}, acldefault('${type}', ${owner}))::text[]`;

// A relation name the way messages show it: `public.` left out.
const REL_NAME = (n: string, c: string): string =>
  `CASE WHEN ${n}.nspname = 'public' THEN '' ELSE ${n}.nspname || '.' END || ${c}.relname`;

// Every object created after initdb has an oid of at least FirstNormalObjectId (16384):
// lower oids belong to initdb's own objects, all in pg_catalog, information_schema and
// pg_toast (or the public schema's own pg_namespace row, so never used on pg_namespace).
// Redundant with the schema filter, but lets a query read the few user rows of pg_proc
// (~3000 system rows) or pg_type by an oid index range scan instead of a sequential scan.
const USER_OID = (oid: string): string => `${oid} >= 16384::oid`;

const NOT_VERSION_TABLE = (c: string): string => `${c}.relname <> 'alembic_version'`;

export const schemasQuery = `
SELECT n.nspname AS name, ${COMMENT('pg_namespace', 'n.oid')}, ${ACL('n.nspacl', 'n', 'n.nspowner')} AS acl
FROM pg_namespace n
WHERE ${USER_SCHEMA('n')} AND ${NOT_IN_EXTENSION('pg_namespace', 'n.oid')}`;

export const extensionsQuery = `
SELECT e.extname AS name, e.extversion AS version, n.nspname AS schema
FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace`;

export const enumsQuery = `
SELECT n.nspname AS schema, t.typname AS name,
  coalesce(e.labels, '{}') AS labels,
  ${USER_COMMENT('pg_type', 't.oid')}
FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
LEFT JOIN (SELECT e.enumtypid, array_agg(e.enumlabel::text ORDER BY e.enumsortorder) AS labels
           FROM pg_enum e GROUP BY e.enumtypid) e ON e.enumtypid = t.oid
WHERE t.typtype = 'e' AND ${USER_SCHEMA('n')} AND ${NOT_IN_EXTENSION('pg_type', 't.oid')}`;

export const domainsQuery = `
SELECT n.nspname AS schema, t.typname AS name,
  format_type(t.typbasetype, t.typtypmod) AS "baseType",
  t.typnotnull AS "notNull", t.typdefault AS "default",
  ARRAY(SELECT c.conname || ': ' || pg_get_constraintdef(c.oid) FROM pg_constraint c
        WHERE c.contypid = t.oid AND c.contype = 'c' ORDER BY 1) AS checks,
  ${USER_COMMENT('pg_type', 't.oid')}
FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
WHERE t.typtype = 'd' AND ${USER_OID('t.oid')} AND ${USER_SCHEMA('n')} AND ${NOT_IN_EXTENSION('pg_type', 't.oid')}`;

export const compositeTypesQuery = `
SELECT n.nspname AS schema, t.typname AS name,
  ARRAY(SELECT a.attname || ' ' || format_type(a.atttypid, a.atttypmod) FROM pg_attribute a
        WHERE a.attrelid = t.typrelid AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum) AS attributes,
  ${USER_COMMENT('pg_type', 't.oid')}
FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
JOIN pg_class c ON c.oid = t.typrelid AND c.relkind = 'c'
WHERE t.typtype = 'c' AND ${USER_SCHEMA('n')} AND ${NOT_IN_EXTENSION('pg_type', 't.oid')}`;

// Identity sequences (deptype 'i') are part of their column, reported there.
export const sequencesQuery = `
SELECT n.nspname AS schema, c.relname AS name, format_type(s.seqtypid, NULL) AS type,
  s.seqstart::text AS start, s.seqincrement::text AS increment,
  s.seqmin::text AS min, s.seqmax::text AS max, s.seqcache::text AS cache, s.seqcycle AS cycle,
  (SELECT ${REL_NAME('rn', 'rc')} || '.' || ra.attname
     FROM pg_depend o JOIN pg_class rc ON rc.oid = o.refobjid
     JOIN pg_namespace rn ON rn.oid = rc.relnamespace
     JOIN pg_attribute ra ON ra.attrelid = o.refobjid AND ra.attnum = o.refobjsubid
    WHERE o.classid = 'pg_class'::regclass AND o.objid = c.oid
      AND o.refclassid = 'pg_class'::regclass AND o.deptype = 'a' LIMIT 1) AS "ownedBy",
  ${USER_COMMENT('pg_class', 'c.oid')}, ${ACL('c.relacl', 's', 'c.relowner')} AS acl
FROM pg_sequence s JOIN pg_class c ON c.oid = s.seqrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE ${USER_SCHEMA('n')} AND ${NOT_IN_EXTENSION('pg_class', 'c.oid')}
  AND NOT EXISTS (SELECT 1 FROM pg_depend i WHERE i.classid = 'pg_class'::regclass
                  AND i.objid = c.oid AND i.deptype = 'i')`;

export const tablesQuery = `
SELECT n.nspname AS schema, c.relname AS name,
  CASE c.relkind WHEN 'p' THEN 'partitioned table' ELSE 'table' END AS kind,
  c.relpersistence = 'u' AS unlogged,
  CASE WHEN c.relispartition THEN
    (SELECT ${REL_NAME('pn', 'pc')} FROM pg_inherits i JOIN pg_class pc ON pc.oid = i.inhparent
       JOIN pg_namespace pn ON pn.oid = pc.relnamespace WHERE i.inhrelid = c.oid LIMIT 1) END AS "partitionOf",
  CASE WHEN c.relispartition THEN pg_get_expr(c.relpartbound, c.oid) END AS "partitionBound",
  CASE WHEN c.relkind = 'p' THEN pg_get_partkeydef(c.oid) END AS "partitionKey",
  c.relrowsecurity AS "rowSecurity", c.relforcerowsecurity AS "forceRowSecurity",
  ${USER_COMMENT('pg_class', 'c.oid')}, ${ACL('c.relacl', 'r', 'c.relowner')} AS acl
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p') AND ${USER_SCHEMA('n')} AND ${NOT_VERSION_TABLE('c')}
  AND ${NOT_IN_EXTENSION('pg_class', 'c.oid')}`;

// Columns a partition inherits from its parent are reported once, on the parent.
export const columnsQuery = `
SELECT n.nspname AS schema, c.relname AS "table", a.attname AS name, a.attnum AS position,
  format_type(a.atttypid, a.atttypmod) AS type, a.attnotnull AS "notNull",
  CASE WHEN a.attgenerated = '' THEN pg_get_expr(ad.adbin, ad.adrelid) END AS "default",
  CASE a.attidentity WHEN 'a' THEN 'ALWAYS' WHEN 'd' THEN 'BY DEFAULT' END AS identity,
  CASE WHEN a.attgenerated <> '' THEN pg_get_expr(ad.adbin, ad.adrelid) END AS generated,
  CASE WHEN a.attcollation <> t.typcollation THEN co.collname::text END AS collation,
  ${USER_COMMENT('pg_class', 'c.oid', 'a.attnum')}
FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_type t ON t.oid = a.atttypid
LEFT JOIN pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum
LEFT JOIN pg_collation co ON co.oid = a.attcollation
WHERE a.attnum > 0 AND NOT a.attisdropped AND c.relkind IN ('r', 'p')
  AND NOT (c.relispartition AND a.attinhcount > 0 AND NOT a.attislocal)
  AND ${USER_SCHEMA('n')} AND ${NOT_VERSION_TABLE('c')}
  AND ${NOT_IN_EXTENSION('pg_class', 'c.oid')}`;

// Constraints cloned onto partitions (conparentid) or inherited (not conislocal) are
// reported once, on the parent.
export const constraintsQuery = `
SELECT n.nspname AS schema, c.relname AS "table", k.conname AS name,
  CASE k.contype WHEN 'p' THEN 'primary key' WHEN 'u' THEN 'unique constraint'
    WHEN 'c' THEN 'check constraint' WHEN 'x' THEN 'exclusion constraint' ELSE 'foreign key' END AS type,
  pg_get_constraintdef(k.oid) AS definition, k.convalidated AS validated,
  k.condeferrable AS deferrable, k.condeferred AS "initiallyDeferred",
  CASE WHEN k.contype = 'f' THEN CASE k.confdeltype WHEN 'r' THEN 'RESTRICT' WHEN 'c' THEN 'CASCADE'
    WHEN 'n' THEN 'SET NULL' WHEN 'd' THEN 'SET DEFAULT' ELSE 'NO ACTION' END END AS "onDelete",
  CASE WHEN k.contype = 'f' THEN CASE k.confupdtype WHEN 'r' THEN 'RESTRICT' WHEN 'c' THEN 'CASCADE'
    WHEN 'n' THEN 'SET NULL' WHEN 'd' THEN 'SET DEFAULT' ELSE 'NO ACTION' END END AS "onUpdate",
  ${USER_COMMENT('pg_constraint', 'k.oid')}
FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE k.contype IN ('p', 'u', 'c', 'x', 'f') AND k.conparentid = 0 AND k.conislocal
  AND ${USER_SCHEMA('n')} AND ${NOT_VERSION_TABLE('c')}
  AND ${NOT_IN_EXTENSION('pg_class', 'c.oid')}`;

// Indexes that back a constraint are left to the constraint; partition child indexes
// (relispartition) to their parent index.
export const indexesQuery = `
SELECT n.nspname AS schema, t.relname AS "table", ic.relname AS name,
  pg_get_indexdef(i.indexrelid) AS definition, i.indisunique AS unique,
  pg_get_expr(i.indpred, i.indrelid) AS predicate, ${USER_COMMENT('pg_class', 'ic.oid')}
FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid
JOIN pg_class t ON t.oid = i.indrelid
JOIN pg_namespace n ON n.oid = ic.relnamespace
WHERE NOT ic.relispartition AND ${USER_SCHEMA('n')} AND ${NOT_VERSION_TABLE('t')}
  AND ${NOT_IN_EXTENSION('pg_class', 't.oid')}
  AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid
                  AND k.conrelid = i.indrelid AND k.contype IN ('p', 'u', 'x'))`;

export const viewsQuery = `
SELECT n.nspname AS schema, c.relname AS name, c.relkind = 'm' AS materialized,
  pg_get_viewdef(c.oid) AS definition, ${USER_COMMENT('pg_class', 'c.oid')},
  ${ACL('c.relacl', 'r', 'c.relowner')} AS acl
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('v', 'm') AND ${USER_SCHEMA('n')} AND ${NOT_IN_EXTENSION('pg_class', 'c.oid')}`;

export const routinesQuery = `
SELECT n.nspname AS schema, p.proname AS name,
  pg_get_function_identity_arguments(p.oid) AS "identityArguments",
  CASE p.prokind WHEN 'p' THEN 'procedure' WHEN 'a' THEN 'aggregate'
    WHEN 'w' THEN 'window function' ELSE 'function' END AS kind,
  pg_get_function_arguments(p.oid) AS arguments,
  pg_get_function_result(p.oid) AS returns,
  l.lanname AS language,
  CASE p.provolatile WHEN 'i' THEN 'IMMUTABLE' WHEN 's' THEN 'STABLE' ELSE 'VOLATILE' END AS volatility,
  p.proisstrict AS strict, p.prosecdef AS "securityDefiner",
  coalesce(p.proconfig, '{}'::text[]) AS config,
  md5(p.prosrc) AS "bodyHash",
  ${USER_COMMENT('pg_proc', 'p.oid')}
FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
JOIN pg_language l ON l.oid = p.prolang
WHERE ${USER_OID('p.oid')} AND ${USER_SCHEMA('n')} AND ${NOT_IN_EXTENSION('pg_proc', 'p.oid')}`;

// Internal triggers implement FKs (reported as constraints); tgparentid marks clones on
// partitions (PostgreSQL 13+).
export const triggersQuery = `
SELECT n.nspname AS schema, c.relname AS "table", g.tgname AS name,
  pg_get_triggerdef(g.oid) AS definition,
  CASE g.tgenabled WHEN 'D' THEN 'DISABLED' WHEN 'R' THEN 'REPLICA' WHEN 'A' THEN 'ALWAYS' ELSE 'ORIGIN' END AS enabled,
  ${USER_COMMENT('pg_trigger', 'g.oid')}
FROM pg_trigger g JOIN pg_class c ON c.oid = g.tgrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE NOT g.tgisinternal AND g.tgparentid = 0 AND ${USER_SCHEMA('n')} AND ${NOT_VERSION_TABLE('c')}
  AND ${NOT_IN_EXTENSION('pg_class', 'c.oid')}`;

export const policiesQuery = `
SELECT n.nspname AS schema, c.relname AS "table", p.polname AS name,
  CASE p.polcmd WHEN 'r' THEN 'SELECT' WHEN 'a' THEN 'INSERT' WHEN 'w' THEN 'UPDATE'
    WHEN 'd' THEN 'DELETE' ELSE 'ALL' END AS command,
  p.polpermissive AS permissive,
  ARRAY(SELECT CASE WHEN r = 0::oid THEN 'PUBLIC' ELSE pg_get_userbyid(r)::text END
        FROM unnest(p.polroles) r ORDER BY 1) AS roles,
  pg_get_expr(p.polqual, p.polrelid) AS using,
  pg_get_expr(p.polwithcheck, p.polrelid) AS "withCheck",
  ${USER_COMMENT('pg_policy', 'p.oid')}
FROM pg_policy p JOIN pg_class c ON c.oid = p.polrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE ${USER_SCHEMA('n')} AND ${NOT_VERSION_TABLE('c')} AND ${NOT_IN_EXTENSION('pg_class', 'c.oid')}`;

/**
 * The unit a row belongs to, for incremental reads (tracker.ts): `r<oid>` for a relation and
 * everything on it (columns, constraints, indexes, triggers, policies), `t<oid>` for a type,
 * `p<oid>` for a routine, `n<oid>` for a schema, `e<oid>` for an extension. `scope` is the
 * kind of unit whose oids filter the query when only some units are re-read.
 */
type Scope = 'rel' | 'type' | 'proc' | 'schema' | 'extension';

/** In the order of the statements sent; each fills the snapshot list of the same name. */
export const SNAPSHOT_QUERIES = [
  ['schemas', schemasQuery, 'n.oid', 'schema'],
  ['extensions', extensionsQuery, 'e.oid', 'extension'],
  ['enums', enumsQuery, 't.oid', 'type'],
  ['domains', domainsQuery, 't.oid', 'type'],
  ['compositeTypes', compositeTypesQuery, 't.oid', 'type'],
  ['sequences', sequencesQuery, 'c.oid', 'rel'],
  ['tables', tablesQuery, 'c.oid', 'rel'],
  ['columns', columnsQuery, 'c.oid', 'rel'],
  ['constraints', constraintsQuery, 'c.oid', 'rel'],
  ['indexes', indexesQuery, 't.oid', 'rel'],
  ['views', viewsQuery, 'c.oid', 'rel'],
  ['routines', routinesQuery, 'p.oid', 'proc'],
  ['triggers', triggersQuery, 'c.oid', 'rel'],
  ['policies', policiesQuery, 'c.oid', 'rel'],
] as const satisfies ReadonlyArray<readonly [string, string, string, Scope]>;

export type SnapshotKind = (typeof SNAPSHOT_QUERIES)[number][0];

const PREFIX: Record<Scope, string> = { rel: 'r', type: 't', proc: 'p', schema: 'n', extension: 'e' };

/** Every query returns its rows' unit key as `_unit` (see Scope); read.ts strips it. */
const withUnit = (sql: string, unit: string, scope: Scope): string =>
  sql.trim().replace(/^SELECT /, `SELECT '${PREFIX[scope]}' || ${unit} AS _unit, `);

// Every query ends with its WHERE clause, so a filter is one more condition: an index
// condition on the unit's oid under the settings of planned().
const filtered = (sql: string, unit: string, scope: Scope): string =>
  `${withUnit(sql, unit, scope)}\n  AND ${unit} = ANY($1::oid[])`;

/** All queries as one simple-protocol string: one round trip for the whole snapshot. */
export const SNAPSHOT_SQL = SNAPSHOT_QUERIES.map(([, sql, unit, scope]) => withUnit(sql, unit, scope)).join(';\n') + ';';

// Planning these catalog joins costs about as much as running them (~8 ms of ~30 ms on a
// 200-table schema), so reads prepare them once per session with SQL-level PREPARE and
// afterwards send only EXECUTEs: still one multi-statement round trip.
const statementName = (kind: string): string => `alembic_gate_snapshot_${kind}`;
const deltaName = (kind: string): string => `alembic_gate_delta_${kind}`;

export const PREPARE_SQL = SNAPSHOT_QUERIES.map(
  ([kind, sql, unit, scope]) => `PREPARE ${statementName(kind)} AS ${withUnit(sql, unit, scope)}`,
).join(';\n') + ';';

export const EXECUTE_SQL = SNAPSHOT_QUERIES.map(([kind]) => `EXECUTE ${statementName(kind)}`).join('; ') + ';';

// --- incremental reads (tracker.ts) ------------------------------------------------------------

// Catalog oids are fixed by PostgreSQL's own headers (pg_class.h etc.), the same in every version.
export const CATALOG = {
  pg_class: 1259,
  pg_type: 1247,
  pg_proc: 1255,
  pg_namespace: 2615,
  pg_extension: 3079,
} as const;

/**
 * SQL for the unit key (see Scope) of the object (classid, objid), or NULL for objects that
 * are in no unit (array types, toast tables, objects of catalogs the snapshot does not model).
 */
const UNIT_OF = (c: string, o: string): string => `CASE ${c}
  WHEN 'pg_class'::regclass THEN (SELECT CASE WHEN x.relkind IN ('r', 'p', 'S', 'v', 'm') THEN 'r' || x.oid
      WHEN x.relkind IN ('i', 'I') THEN (SELECT 'r' || i.indrelid FROM pg_index i WHERE i.indexrelid = x.oid)
      WHEN x.relkind = 'c' THEN (SELECT 't' || y.oid FROM pg_type y WHERE y.typrelid = x.oid) END
    FROM pg_class x WHERE x.oid = ${o})
  WHEN 'pg_type'::regclass THEN (SELECT CASE WHEN y.typtype IN ('e', 'd') THEN 't' || y.oid
      WHEN y.typtype = 'c' THEN (SELECT CASE x.relkind WHEN 'c' THEN 't' || y.oid ELSE 'r' || x.oid END
        FROM pg_class x WHERE x.oid = y.typrelid) END
    FROM pg_type y WHERE y.oid = ${o})
  WHEN 'pg_proc'::regclass THEN 'p' || ${o}
  WHEN 'pg_constraint'::regclass THEN (SELECT CASE WHEN k.conrelid <> 0 THEN 'r' || k.conrelid
      WHEN k.contypid <> 0 THEN 't' || k.contypid END FROM pg_constraint k WHERE k.oid = ${o})
  WHEN 'pg_trigger'::regclass THEN (SELECT 'r' || g.tgrelid FROM pg_trigger g WHERE g.oid = ${o})
  WHEN 'pg_policy'::regclass THEN (SELECT 'r' || p.polrelid FROM pg_policy p WHERE p.oid = ${o})
  WHEN 'pg_attrdef'::regclass THEN (SELECT 'r' || a.adrelid FROM pg_attrdef a WHERE a.oid = ${o})
  WHEN 'pg_rewrite'::regclass THEN (SELECT 'r' || w.ev_class FROM pg_rewrite w WHERE w.oid = ${o})
END`;

// Dependency edges through a schema or an extension reach everything in it; changes to
// those two are handled as "read everything" instead (see tracker.ts).
const NOT_CONTAINER = (c: string): string => `${c} NOT IN ('pg_namespace'::regclass, 'pg_extension'::regclass)`;

/**
 * The units a set of changed objects ($1 classids, $2 objids, as reported by the event
 * triggers) make stale: their own units, and the units of the objects that depend on them up
 * to two levels (a renamed column shows in views, foreign keys and sequence ownership
 * elsewhere; a renamed enum in columns of its array type, through the array type).
 */
const RESOLVE = `
WITH RECURSIVE reach(classid, objid, depth) AS (
  SELECT t.classid, t.objid, 0 FROM unnest($1::oid[], $2::oid[]) AS t(classid, objid)
  UNION
  SELECT d.classid, d.objid, r.depth + 1 FROM reach r
  JOIN pg_depend d ON d.refclassid = r.classid AND d.refobjid = r.objid
  WHERE r.depth < 2 AND ${NOT_CONTAINER('r.classid')}
)
SELECT DISTINCT u.unit FROM reach r CROSS JOIN LATERAL (SELECT ${UNIT_OF('r.classid', 'r.objid')} AS unit) u
WHERE u.unit IS NOT NULL`;

/**
 * For units being re-read ($1 relations, $2 types, $3 routines): every object the unit is
 * made of, as `classid:objid` (a later DROP INDEX or DROP TRIGGER names only that object),
 * with the units it depends on (DETACH PARTITION names only the parent, yet the child's
 * picture changes: the child is found as a unit that depended on the parent).
 */
const PARTS = `
WITH parts(unit, classid, objid) AS (
  SELECT 'r' || r, 'pg_class'::regclass::oid, r FROM unnest($1::oid[]) r
  UNION ALL SELECT 'r' || i.indrelid, 'pg_class'::regclass::oid, i.indexrelid FROM pg_index i WHERE i.indrelid = ANY($1::oid[])
  UNION ALL SELECT 'r' || k.conrelid, 'pg_constraint'::regclass::oid, k.oid FROM pg_constraint k WHERE k.conrelid = ANY($1::oid[])
  UNION ALL SELECT 'r' || g.tgrelid, 'pg_trigger'::regclass::oid, g.oid FROM pg_trigger g WHERE g.tgrelid = ANY($1::oid[])
  UNION ALL SELECT 'r' || p.polrelid, 'pg_policy'::regclass::oid, p.oid FROM pg_policy p WHERE p.polrelid = ANY($1::oid[])
  UNION ALL SELECT 'r' || a.adrelid, 'pg_attrdef'::regclass::oid, a.oid FROM pg_attrdef a WHERE a.adrelid = ANY($1::oid[])
  UNION ALL SELECT 'r' || w.ev_class, 'pg_rewrite'::regclass::oid, w.oid FROM pg_rewrite w WHERE w.ev_class = ANY($1::oid[])
  UNION ALL SELECT 't' || t, 'pg_type'::regclass::oid, t FROM unnest($2::oid[]) t
  UNION ALL SELECT 't' || k.contypid, 'pg_constraint'::regclass::oid, k.oid FROM pg_constraint k WHERE k.contypid = ANY($2::oid[])
  UNION ALL SELECT 't' || y.oid, 'pg_class'::regclass::oid, y.typrelid FROM pg_type y WHERE y.oid = ANY($2::oid[]) AND y.typrelid <> 0
  UNION ALL SELECT 'p' || p, 'pg_proc'::regclass::oid, p FROM unnest($3::oid[]) p
)
SELECT o.unit, o.classid || ':' || o.objid AS part,
  ARRAY(SELECT DISTINCT ${UNIT_OF('d.refclassid', 'd.refobjid')} FROM pg_depend d
        WHERE d.classid = o.classid AND d.objid = o.objid AND ${NOT_CONTAINER('d.refclassid')}) AS refs
FROM parts o`;

/** Prepared once per session, next to the full-read statements. */
/** Schemas and extensions are few and always read whole; the other scopes filter by unit. */
const readWhole = (scope: Scope): scope is 'schema' | 'extension' => scope === 'schema' || scope === 'extension';

const DELTA_QUERIES = SNAPSHOT_QUERIES.filter(([, , , scope]) => !readWhole(scope));

export const PREPARE_DELTA_SQL = [
  ...DELTA_QUERIES.map(([kind, sql, unit, scope]) => `PREPARE ${deltaName(kind)}(oid[]) AS ${filtered(sql, unit, scope)}`),
  `PREPARE alembic_gate_resolve(oid[], oid[]) AS ${RESOLVE.trim()}`,
  `PREPARE alembic_gate_parts(oid[], oid[], oid[]) AS ${PARTS.trim()}`,
].join(';\n') + ';';

const oidArray = (oids: readonly number[]): string => `'{${oids.join(',')}}'`;

/**
 * Runs delta statements in a transaction of their own, planned for a handful of oids: one
 * generic plan per statement (no replanning per call), index lookups and nested loops only.
 * Left to itself the planner hash-joins whole catalogs, a cost that grows with the schema;
 * these statements never touch more than the few units a step changed. The settings are
 * SET LOCAL, so the whole-read statements keep their own plans, and since delta statements
 * only ever run here, any replanning (after a catalog ANALYZE) happens under them too.
 * JIT is off: the penalty cost of a disabled plan node (a scan with no index to use) would
 * otherwise pass jit_above_cost and spend most of a second compiling a millisecond query.
 */
export function planned(sql: string): string {
  return `BEGIN; ${PLANNER_SETTINGS}\n${sql}\nCOMMIT;`;
}

const PLANNER_SETTINGS = `SELECT ${[
  ['plan_cache_mode', 'force_generic_plan'],
  ['enable_seqscan', 'off'],
  ['enable_hashjoin', 'off'],
  ['enable_mergejoin', 'off'],
  ['jit', 'off'],
].map(([k, v]) => `set_config('${k}', '${v}', true)`).join(', ')};`;

/** Result sets planned() adds ahead of the statements' own (BEGIN and the settings), and after (COMMIT). */
export const PLANNED_LEAD = 2;
export const PLANNED_TAIL = 1;

/**
 * Re-reads the given units: every kind filtered by the oids of its scope (kinds of a scope
 * with no units are left out), schemas and extensions always whole. Returns the SQL and the
 * kinds its result sets are for, in order.
 */
export function deltaSql(units: { rel: number[]; type: number[]; proc: number[] }): { sql: string; kinds: SnapshotKind[] } {
  const kinds: SnapshotKind[] = [];
  const statements: string[] = [];
  for (const [kind, , , scope] of SNAPSHOT_QUERIES) {
    if (readWhole(scope)) statements.push(`EXECUTE ${statementName(kind)}`);
    else if (units[scope].length) statements.push(`EXECUTE ${deltaName(kind)}(${oidArray(units[scope])})`);
    else continue;
    kinds.push(kind);
  }
  return { sql: statements.join('; ') + ';', kinds };
}

export function resolveSql(objects: ReadonlyArray<readonly [number, number]>): string {
  return `EXECUTE alembic_gate_resolve(${oidArray(objects.map((o) => o[0]))}, ${oidArray(objects.map((o) => o[1]))});`;
}

export function partsSql(units: { rel: number[]; type: number[]; proc: number[] }): string {
  return `EXECUTE alembic_gate_parts(${oidArray(units.rel)}, ${oidArray(units.type)}, ${oidArray(units.proc)});`;
}
