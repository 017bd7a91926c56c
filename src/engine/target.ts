// What a worker needs to reach one database of the throwaway server, and nothing else.
import type { DatabaseTarget } from '../alembic/tree.js';
import { sqlalchemyUrl } from '../db/client.js';
import type { ThrowawayDatabase } from '../db/provider.js';

export function databaseTarget(db: ThrowawayDatabase, database?: string): DatabaseTarget {
  const info = { ...db.connection, database: database ?? db.connection.database };
  return { url: sqlalchemyUrl(info), allowed: { host: info.host, port: info.port, database: info.database } };
}
