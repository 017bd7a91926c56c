// Schema snapshots: read from the PostgreSQL catalogs (read.ts), compared as plain data
// (diff.ts), and described one line per difference (describe.ts).

export type * from './model.js';
export { emptySnapshot } from './model.js';
export { normalizeSnapshot, snapshotsEqual, canonicalJson } from './normalize.js';
export { diffSnapshots, displayName } from './diff.js';
export type { SchemaDifference } from './diff.js';
export { describeDifference, shortTypeName } from './describe.js';
export type { DifferenceContext } from './describe.js';
