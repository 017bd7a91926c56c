// The schema snapshot: a typed, JSON-serializable picture of one database's user schemas,
// read from the PostgreSQL catalogs (see read.ts). Plain data only, so two snapshots taken
// before and after a migration round trip compare with diffSnapshots() as values.
//
// Conventions:
// - `schema` and `name` are raw identifiers (unquoted). References to other relations
//   (partitionOf, ownedBy) are written the way messages show them: `public.` omitted.
// - Expressions and definitions are PostgreSQL's own deparsed text (pg_get_expr,
//   pg_get_constraintdef, ...), so equal objects give equal text.
// - Lists are sorted by their key (see normalizeSnapshot); lists whose order is meaningful
//   (enum labels, composite attributes) keep the database order.
// - `null` means "absent" (no default, no comment, ...).

export interface SchemaInfo {
  name: string;
  comment: string | null;
  /** Effective privileges as aclitem text, sorted; a NULL acl is replaced by its default. */
  acl: string[];
}

export interface Extension {
  name: string;
  version: string;
  schema: string;
}

export interface Table {
  schema: string;
  name: string;
  kind: 'table' | 'partitioned table';
  unlogged: boolean;
  /** Parent of a partition, or null. */
  partitionOf: string | null;
  /** `FOR VALUES ...` of a partition, or null. */
  partitionBound: string | null;
  /** `RANGE (col)` etc. of a partitioned table, or null. */
  partitionKey: string | null;
  rowSecurity: boolean;
  forceRowSecurity: boolean;
  comment: string | null;
  acl: string[];
}

export interface Column {
  schema: string;
  table: string;
  name: string;
  /** attnum: kept for information, never reported as a difference on its own. */
  position: number;
  /** format_type() text, e.g. "character varying(50)". */
  type: string;
  notNull: boolean;
  default: string | null;
  /** 'ALWAYS' | 'BY DEFAULT' for identity columns. */
  identity: string | null;
  /** Expression of a GENERATED ... STORED column. */
  generated: string | null;
  /** Only when it differs from the type's default collation. */
  collation: string | null;
  comment: string | null;
}

export type ConstraintType =
  | 'primary key'
  | 'unique constraint'
  | 'check constraint'
  | 'exclusion constraint'
  | 'foreign key';

export interface Constraint {
  schema: string;
  table: string;
  name: string;
  type: ConstraintType;
  /** pg_get_constraintdef(): includes FK actions and deferrability. */
  definition: string;
  validated: boolean;
  deferrable: boolean;
  initiallyDeferred: boolean;
  /** Foreign keys only: 'NO ACTION' | 'RESTRICT' | 'CASCADE' | 'SET NULL' | 'SET DEFAULT'. */
  onDelete: string | null;
  onUpdate: string | null;
  comment: string | null;
}

/** Indexes that back a primary key, unique or exclusion constraint are left to the constraint. */
export interface Index {
  schema: string;
  table: string;
  name: string;
  definition: string;
  unique: boolean;
  predicate: string | null;
  comment: string | null;
}

export interface Sequence {
  schema: string;
  name: string;
  type: string;
  // bigint values as decimal text: JSON numbers cannot hold them all.
  start: string;
  increment: string;
  min: string;
  max: string;
  cache: string;
  cycle: boolean;
  /** `table.column` of OWNED BY, or null. */
  ownedBy: string | null;
  comment: string | null;
  acl: string[];
}

export interface EnumType {
  schema: string;
  name: string;
  /** In enumsortorder order. */
  labels: string[];
  comment: string | null;
}

export interface Domain {
  schema: string;
  name: string;
  baseType: string;
  notNull: boolean;
  default: string | null;
  /** `name: CHECK (...)`, sorted. */
  checks: string[];
  comment: string | null;
}

export interface CompositeType {
  schema: string;
  name: string;
  /** `name type`, in attribute order. */
  attributes: string[];
  comment: string | null;
}

export interface View {
  schema: string;
  name: string;
  materialized: boolean;
  /** pg_get_viewdef() with whitespace runs collapsed. */
  definition: string;
  comment: string | null;
  acl: string[];
}

export interface Routine {
  schema: string;
  name: string;
  /** pg_get_function_identity_arguments(): part of the identity (overloads). */
  identityArguments: string;
  kind: 'function' | 'procedure' | 'aggregate' | 'window function';
  /** Full argument list, with names and defaults. */
  arguments: string;
  returns: string | null;
  language: string;
  volatility: string;
  strict: boolean;
  securityDefiner: boolean;
  /** proconfig (SET clauses), sorted. */
  config: string[];
  /** md5 of the body: enough to tell "changed", far smaller than the source. */
  bodyHash: string;
  comment: string | null;
}

export interface Trigger {
  schema: string;
  table: string;
  name: string;
  definition: string;
  /** 'ORIGIN' (normal) | 'DISABLED' | 'REPLICA' | 'ALWAYS'. */
  enabled: string;
  comment: string | null;
}

export interface Policy {
  schema: string;
  table: string;
  name: string;
  command: string;
  permissive: boolean;
  roles: string[];
  using: string | null;
  withCheck: string | null;
  comment: string | null;
}

export interface Snapshot {
  schemas: SchemaInfo[];
  extensions: Extension[];
  enums: EnumType[];
  domains: Domain[];
  compositeTypes: CompositeType[];
  sequences: Sequence[];
  tables: Table[];
  columns: Column[];
  constraints: Constraint[];
  indexes: Index[];
  views: View[];
  routines: Routine[];
  triggers: Trigger[];
  policies: Policy[];
}

export function emptySnapshot(): Snapshot {
  return {
    schemas: [],
    extensions: [],
    enums: [],
    domains: [],
    compositeTypes: [],
    sequences: [],
    tables: [],
    columns: [],
    constraints: [],
    indexes: [],
    views: [],
    routines: [],
    triggers: [],
    policies: [],
  };
}
