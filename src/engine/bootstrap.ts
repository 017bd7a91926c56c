// --bootstrap: histories that do not start from an empty database. Their first revision alters
// tables that create_all() or tooling older than Alembic made, so the base's migrations cannot
// run on an empty database. Either the base's models are created and stamped at the base's heads
// (`models`), or a schema-only SQL dump is loaded and its version table says where it stands
// (Alembic reads it when the base's migrations are applied on top).
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { DatabaseTarget, SourceTree } from '../alembic/tree.js';
import type { ThrowawayServer } from '../engines/engine.js';
import { UserError } from '../util/errors.js';
import { describeFailure } from './steps.js';

export type Bootstrap = { kind: 'models' } | { kind: 'sql'; path: string };

/** `models` or a path (relative to `workingDirectory`) of a .sql file that must exist. */
export function parseBootstrap(value: string, workingDirectory: string): Bootstrap {
  if (value === 'models') return { kind: 'models' };
  const path = resolve(workingDirectory, value);
  if (!existsSync(path)) throw new UserError(`--bootstrap: no such file ${path}; pass \`models\` or the path of a schema-only SQL dump (pg_dump --schema-only --no-owner --no-privileges)`);
  return { kind: 'sql', path };
}

/** The plain SQL of a pg_dump file: psql meta-commands (\connect, \restrict ...) left out. */
export function dumpStatements(text: string, shown: string): string {
  if (/^COPY .* FROM stdin;$/m.test(text)) {
    throw new UserError(`--bootstrap ${shown} holds table data (COPY ... FROM stdin): use a schema-only dump (pg_dump --schema-only --no-owner --no-privileges), plus the version table's rows if you want them (pg_dump --data-only --inserts --table alembic_version)`);
  }
  return text
    .split('\n')
    .filter((line) => !line.startsWith('\\'))
    .join('\n');
}

/** Prepares the empty database `target` for the base's migrations. Returns a notice for the report. */
export async function bootstrapBase(how: Bootstrap, shown: string, db: ThrowawayServer, target: DatabaseTarget, base: SourceTree, timeoutMs: number): Promise<string> {
  if (how.kind === 'models') {
    try {
      await base.bootstrapModels(timeoutMs);
    } catch (err) {
      throw new UserError(`--bootstrap models failed: ${describeFailure(err, base).message}`);
    }
    return "--bootstrap models: the base's models were created (target_metadata.create_all) and stamped at the base's heads";
  }
  const sql = dumpStatements(readFileSync(how.path, 'utf8'), shown);
  if (!db.loadSql) throw new UserError(`--bootstrap ${shown}: a schema dump loads on PostgreSQL only; use --bootstrap models on ${db.engine.name}`);
  try {
    await db.loadSql(target, sql);
  } catch (err) {
    throw new UserError(`--bootstrap ${shown} does not load: ${(err as Error).message}. A dump made with pg_dump --schema-only --no-owner --no-privileges loads on any server.`);
  }
  return `--bootstrap ${shown}: the base's migrations were applied on top of that schema, from the revisions its version table holds (all of them if it holds none)`;
}
