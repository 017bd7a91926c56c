// MySQL and MariaDB behind the engine seam. The providers (url, local, container) make a
// MysqlServer (server.ts): databases of this run, a migration user of its own, targets for the
// worker; a session is the gate's own mysql2 connection to one database, reading whole
// snapshots from information_schema (read.ts). DDL is not transactional on MySQL, there is no
// lock introspection, no row fingerprints and no database copies, so the checks that need them
// skip with the engine's name.
import type { DatabaseEngine, ProviderAttempt, ProvisionRequest, ThrowawayServer } from '../engine.js';
import { ProvisionError } from '../engine.js';
import { MYSQL_ID } from './client.js';
import { provisionContainer } from './container.js';
import { mysqlHint } from './hints.js';
import { provisionLocal } from './local.js';
import type { MysqlServer } from './server.js';
import { provisionUrl } from './url.js';

export type MysqlProviderName = 'url' | 'local' | 'container';
export const MYSQL_PROVIDERS: readonly MysqlProviderName[] = ['url', 'local', 'container'];

const WHAT_TO_DO =
  'To fix: pass --database-url mysql://user:password@host:3306/ (a server where that user may CREATE DATABASE and CREATE USER, e.g. a services: mysql container), ' +
  'or install MariaDB or MySQL server binaries (mariadbd and mariadb-install-db, or mysqld; e.g. apt-get install mariadb-server), ' +
  'or make a Docker engine available for --provider container.';

/** The providers `provider` stands for, in the order they are tried. */
export function providerOrder(provider: string, databaseUrl: string | undefined): MysqlProviderName[] {
  if (provider === 'auto') return databaseUrl ? ['url'] : ['local', 'container'];
  if (!(MYSQL_PROVIDERS as readonly string[]).includes(provider)) {
    throw new ProvisionError(`--provider ${provider} is not one of MySQL's: auto, ${MYSQL_PROVIDERS.join(', ')}`, [{ provider, error: `not a MySQL provider (${MYSQL_PROVIDERS.join(', ')})` }]);
  }
  return [provider as MysqlProviderName];
}

export async function provisionMysql(
  engine: DatabaseEngine,
  request: ProvisionRequest,
  log?: (msg: string) => void,
): Promise<{ server: MysqlServer; attempts: ProviderAttempt[] }> {
  const attempts: ProviderAttempt[] = [];
  for (const provider of providerOrder(request.provider, request.databaseUrl)) {
    const started = Date.now();
    try {
      const server = await provisionWith(engine, provider, request, log);
      log?.(`database: ${provider} provider ready in ${Date.now() - started} ms`);
      return { server, attempts };
    } catch (err) {
      const error = err instanceof Error ? err.message : String(err);
      attempts.push({ provider, error });
      log?.(`database: ${provider} provider failed after ${Date.now() - started} ms: ${error}`);
    }
  }
  const lines = attempts.map((a) => `  - ${a.provider}: ${a.error.replace(/\n/g, '\n    ')}`);
  const header =
    request.provider === 'auto'
      ? `could not provision a throwaway MySQL database; tried ${attempts.map((a) => a.provider).join(', ')}:`
      : `could not provision a throwaway MySQL database with --provider ${request.provider}:`;
  throw new ProvisionError(`${header}\n${lines.join('\n')}\n${WHAT_TO_DO}`, attempts);
}

function provisionWith(engine: DatabaseEngine, provider: MysqlProviderName, request: ProvisionRequest, log?: (msg: string) => void): Promise<MysqlServer> {
  switch (provider) {
    case 'url':
      if (!request.databaseUrl) return Promise.reject(new Error('--provider url needs --database-url mysql://user:password@host:3306/'));
      return provisionUrl(engine, { databaseUrl: request.databaseUrl, ...(log ? { log } : {}) });
    case 'local':
      return provisionLocal(engine, { ...(log ? { log } : {}), ...(request.scratchDir ? { parentDir: request.scratchDir } : {}) });
    case 'container':
      return provisionContainer(engine, log ? { log } : {});
  }
}

export const mysqlEngine = {
  id: MYSQL_ID,
  name: 'MySQL',
  dialects: ['mysql', 'mariadb'],
  capabilities: {
    transactionalDdl: false, // every DDL statement commits
    incrementalSnapshots: false,
    lockIntrospection: false,
    rowFingerprints: false,
    compat: false,
    roles: false,
    sqlBootstrap: false,
    tracedSql: false,
    implicitFill: true,
  },
  hint: mysqlHint,
  async provision(request: ProvisionRequest): Promise<{ server: ThrowawayServer; attempts: ProviderAttempt[] }> {
    return provisionMysql(mysqlEngine, request);
  },
} as const satisfies DatabaseEngine;
