// What a worker needs to reach one database of the throwaway server, and nothing else; for a
// multidb project, one database per ini section.
import type { DatabaseTarget } from '../../alembic/tree.js';
import { targetDatabases } from '../../engine/target.js';
import { connectionString, sqlalchemyUrl } from './client.js';
import type { ThrowawayDatabase } from './provider.js';

export function databaseTarget(db: ThrowawayDatabase, database?: string, sections?: { section: string; database: string }[]): DatabaseTarget {
  const one = single(db, database ?? db.connection.database);
  if (!sections?.length) return one;
  const [first, ...rest] = sections;
  return { ...one, section: first!.section, others: rest.map((s) => ({ section: s.section, target: single(db, s.database) })) };
}

function single(db: ThrowawayDatabase, name: string): DatabaseTarget {
  // The project's code reaches the server its own way (127.0.0.1 and a password for the local
  // clusters); the gate's own client keeps `db.connection`.
  const info = { ...db.connection, ...db.projectAccess, database: name };
  return {
    engine: 'postgresql',
    url: sqlalchemyUrl(info, db.driver),
    plainUrl: connectionString(info),
    twin: { host: info.host, port: info.port, user: info.user, ...(info.password ? { password: info.password } : {}), database: name, ...(info.sslmode ? { sslmode: info.sslmode } : {}) },
    marker: db.serverMarker,
    // The gate's own spelling of the server is the project's too (a stale URL it handed out).
    aliases: [db.connection.host],
    allowed: { host: info.host, port: info.port, database: name },
  };
}

/**
 * New databases shaped like `like` (one per multidb section), empty or, with `template`,
 * copies of its databases section by section.
 */
export async function createTarget(db: ThrowawayDatabase, like: DatabaseTarget, template?: DatabaseTarget): Promise<DatabaseTarget> {
  const from = template ? targetDatabases(template) : [];
  const made: { section?: string; database: string }[] = [];
  try {
    for (const part of targetDatabases(like)) {
      const source = from.find((f) => f.section === part.section)?.database;
      const created = await db.createDatabase(source ? { template: source } : {});
      made.push({ ...(part.section ? { section: part.section } : {}), database: created.database });
    }
  } catch (err) {
    await Promise.all(made.map((m) => db.dropDatabase(m.database).catch(() => {})));
    throw err;
  }
  return databaseTarget(db, made[0]!.database, like.section ? made.map((m) => ({ section: m.section!, database: m.database })) : undefined);
}

/** A multidb shape for the gate database: its section first, a new database for each other section. */
export async function gateTarget(db: ThrowawayDatabase, sections: string[] | null): Promise<DatabaseTarget> {
  if (!sections || sections.length === 0) return databaseTarget(db);
  const parts = [{ section: sections[0]!, database: db.connection.database }];
  for (const section of sections.slice(1)) parts.push({ section, database: (await db.createDatabase()).database });
  return databaseTarget(db, db.connection.database, parts);
}
