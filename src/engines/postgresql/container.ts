// `container` provider: postgres:<version> in Docker through testcontainers (optional
// dependency, loaded on demand, not bundled). Before loading it we check that a Docker engine
// answers, so a machine without one fails in well under a second instead of timing out.
import { randomBytes } from 'node:crypto';
import { quoteIdent, serverFacts, withClient } from './client.js';
import { registerCleanup } from '../../util/cleanup.js';
import type { ConnectionInfo, ThrowawayDatabase } from './provider.js';
import { makeThrowawayDatabase } from './throwaway.js';
import { checkDocker } from '../../util/docker.js';

export { checkDocker, dockerEndpoint } from '../../util/docker.js';

const DEFAULT_VERSION = '16';
const GATE_DATABASE = 'alembic_gate';

// The slice of @testcontainers/postgresql we use (typed here: the package is optional).
interface StartedPostgres {
  getHost(): string;
  getPort(): number;
  stop(): Promise<unknown>;
}
interface PostgresContainerBuilder {
  withDatabase(db: string): PostgresContainerBuilder;
  withUsername(user: string): PostgresContainerBuilder;
  withPassword(password: string): PostgresContainerBuilder;
  withCommand(cmd: string[]): PostgresContainerBuilder;
  withTmpFs(tmpfs: Record<string, string>): PostgresContainerBuilder;
  start(): Promise<StartedPostgres>;
}
interface TestcontainersPostgresModule {
  PostgreSqlContainer: new (image: string) => PostgresContainerBuilder;
}

export async function provisionContainer(opts: { postgresVersion?: string; log?: (msg: string) => void } = {}): Promise<ThrowawayDatabase> {
  await checkDocker();
  let mod: TestcontainersPostgresModule;
  try {
    const specifier: string = '@testcontainers/postgresql';
    mod = (await import(specifier)) as TestcontainersPostgresModule;
  } catch (err) {
    throw new Error(`@testcontainers/postgresql is not installed (an optional dependency: npm install @testcontainers/postgresql): ${(err as Error).message}`);
  }
  const version = opts.postgresVersion?.trim() || DEFAULT_VERSION;
  const image = `postgres:${version}`;
  const password = randomBytes(12).toString('hex');
  let started: StartedPostgres | undefined;
  let stopping = false;
  const stop = async (): Promise<void> => {
    if (started && !stopping) {
      stopping = true;
      await started.stop();
    }
  };
  // testcontainers' reaper (Ryuk) also removes the container if this process dies hard.
  const unregister = registerCleanup(stop);
  try {
    opts.log?.(`container: starting ${image}`);
    started = await new mod.PostgreSqlContainer(image)
      .withDatabase('postgres')
      .withUsername('postgres')
      .withPassword(password)
      .withTmpFs({ '/var/lib/postgresql/data': 'rw' })
      .withCommand(['postgres', '-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off', '-c', 'max_connections=50'])
      .start();
    const admin: ConnectionInfo = { host: started.getHost(), port: started.getPort(), user: 'postgres', password, database: 'postgres' };
    const facts = await withClient(admin, async (c) => {
      await c.query(`CREATE DATABASE ${quoteIdent(GATE_DATABASE)}`);
      return serverFacts(c);
    });
    return makeThrowawayDatabase({ afterDispose: unregister, provider: 'container', admin, database: GATE_DATABASE, facts, dropOnDispose: false, teardown: stop });
  } catch (err) {
    try {
      await stop();
    } finally {
      unregister();
    }
    throw new Error(`could not start ${image} with testcontainers: ${(err as Error).message}`);
  }
}
