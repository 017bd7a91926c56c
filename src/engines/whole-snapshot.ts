// What the sessions of engines without incremental snapshots share (SQLite, MySQL): every read
// is a whole one, cut into units a comparison matches, and there are no roles or lock
// observations to give.
import type { EngineSession } from './engine.js';
import type { Snapshot } from '../snapshot/model.js';
import { stateFromSnapshot, type SchemaState } from '../snapshot/state.js';

/** One unit per table (with everything on it), view, trigger, routine or sequence. */
export const wholeUnitKey = (kind: keyof Snapshot, row: Record<string, unknown>): string => {
  switch (kind) {
    case 'views':
      return `v:${row.name as string}`;
    case 'triggers':
      return `t:${row.name as string}`;
    case 'routines':
      return `f:${row.kind as string}:${row.name as string}`;
    case 'sequences':
      return `s:${row.name as string}`;
    default:
      return `r:${(row.table ?? row.name) as string}`;
  }
};

export abstract class WholeSnapshotSession implements EngineSession {
  readonly incremental = false;
  /** The schema now, in the model of src/snapshot/model.ts (the units normalize it). */
  protected abstract snapshot(): Promise<Snapshot>;
  abstract versions(table: { schema: string | null; name: string } | null): Promise<string[] | null>;
  abstract close(): Promise<void>;

  async read(): Promise<SchemaState> {
    return stateFromSnapshot(await this.snapshot(), wholeUnitKey);
  }
  markStale(): void {}
  async verify(): Promise<boolean> {
    return true; // every read is a whole one
  }
  async tables() {
    return [];
  }
  async roles(): Promise<Set<string> | null> {
    return null;
  }
  async dropRole(): Promise<void> {}
  async endOtherSessions(): Promise<void> {}
}
