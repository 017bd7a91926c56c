// What a worker needs to reach one database of the throwaway server, and nothing else.
import type { DatabaseTarget } from '../alembic/tree.js';
import { connectionString, sqlalchemyUrl } from '../db/client.js';
import type { ThrowawayDatabase } from '../db/provider.js';

export function databaseTarget(db: ThrowawayDatabase, database?: string): DatabaseTarget {
  const name = database ?? db.connection.database;
  // The project's code reaches the server its own way (127.0.0.1 and a password for the local
  // clusters); the gate's own client keeps `db.connection`.
  const info = { ...db.connection, ...db.projectAccess, database: name };
  return {
    url: sqlalchemyUrl(info, db.driver),
    plainUrl: connectionString(info),
    twin: { host: info.host, port: info.port, user: info.user, ...(info.password ? { password: info.password } : {}), database: name, ...(info.sslmode ? { sslmode: info.sslmode } : {}) },
    marker: db.serverMarker,
    // The gate's own spelling of the server is the project's too (a stale URL it handed out).
    aliases: [db.connection.host],
    allowed: { host: info.host, port: info.port, database: name },
  };
}
