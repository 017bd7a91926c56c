// `container` provider: postgres:<version> in Docker through testcontainers (optional
// dependency, loaded on demand, not bundled). Before loading it we check that a Docker engine
// answers, so a machine without one fails in well under a second instead of timing out.
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { request } from 'node:http';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { quoteIdent, serverFacts, withClient } from './client.js';
import { registerCleanup } from '../../util/cleanup.js';
import type { ConnectionInfo, ThrowawayDatabase } from './provider.js';
import { makeThrowawayDatabase } from './throwaway.js';

const PING_TIMEOUT_MS = 3_000;
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

type DockerEndpoint = { socketPath: string; describe: string } | { host: string; port: number; describe: string };

/** Where the Docker engine should be, from DOCKER_HOST or the usual socket paths. */
export function dockerEndpoint(): DockerEndpoint | { missing: string } {
  const dockerHost = process.env.DOCKER_HOST;
  if (dockerHost) {
    if (dockerHost.startsWith('unix://')) {
      const socketPath = dockerHost.slice('unix://'.length);
      if (!existsSync(socketPath)) return { missing: `DOCKER_HOST is ${dockerHost} but ${socketPath} does not exist` };
      return { socketPath, describe: dockerHost };
    }
    const m = /^tcp:\/\/([^:/]+|\[[^\]]+\]):(\d+)/.exec(dockerHost);
    if (m) return { host: m[1]!.replace(/^\[|\]$/g, ''), port: Number(m[2]), describe: dockerHost };
    return { missing: `DOCKER_HOST=${dockerHost} is not a unix:// or tcp:// address this check understands` };
  }
  const runtimeDir = process.env.XDG_RUNTIME_DIR;
  const candidates = [
    '/var/run/docker.sock',
    join(homedir(), '.docker', 'run', 'docker.sock'),
    join(homedir(), '.docker', 'desktop', 'docker.sock'),
    ...(runtimeDir ? [join(runtimeDir, 'docker.sock'), join(runtimeDir, 'podman', 'podman.sock')] : []),
    '/run/podman/podman.sock',
  ];
  const socketPath = candidates.find((p) => existsSync(p));
  if (!socketPath) return { missing: `no Docker engine: DOCKER_HOST is not set and ${candidates.join(', ')} do not exist` };
  return { socketPath, describe: socketPath };
}

/** Resolves when the engine answers GET /_ping; rejects with the reason otherwise. */
export async function checkDocker(): Promise<void> {
  const endpoint = dockerEndpoint();
  if ('missing' in endpoint) throw new Error(endpoint.missing);
  await new Promise<void>((resolve, reject) => {
    const target = 'socketPath' in endpoint ? { socketPath: endpoint.socketPath } : { host: endpoint.host, port: endpoint.port };
    const req = request({ ...target, path: '/_ping', method: 'GET', timeout: PING_TIMEOUT_MS }, (res) => {
      res.resume();
      if (res.statusCode === 200) resolve();
      else reject(new Error(`the Docker engine at ${endpoint.describe} answered /_ping with HTTP ${res.statusCode}`));
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${PING_TIMEOUT_MS / 1000} s`)));
    req.on('error', (err) => reject(new Error(`no Docker engine answers at ${endpoint.describe}: ${err.message}`)));
    req.end();
  });
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
