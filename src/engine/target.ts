// The databases of a target: one, or for a multidb project one per ini section.
import type { DatabaseTarget } from '../alembic/tree.js';

/** Every database of a target: the first section's, then the others'. */
export function targetDatabases(target: DatabaseTarget): { section?: string; database: string }[] {
  return [
    { ...(target.section ? { section: target.section } : {}), database: target.allowed.database },
    ...(target.others ?? []).map((o) => ({ section: o.section, database: o.target.allowed.database })),
  ];
}
