// `container` provider: mysql:<version> or mariadb:<version> in Docker through testcontainers
// (an optional dependency, loaded on demand, not bundled). ALEMBIC_GATE_MYSQL_IMAGE picks the
// image (default mysql:8.0). Before loading testcontainers we check that a Docker engine answers,
// so a machine without one fails in well under a second.
import { randomBytes } from 'node:crypto';
import { registerCleanup } from '../../util/cleanup.js';
import { checkDocker } from '../../util/docker.js';
import type { DatabaseEngine } from '../engine.js';
import { connect, quoteIdent, serverFacts, withConnection, type MysqlConnection } from './client.js';
import { MysqlServer } from './server.js';

const DEFAULT_IMAGE = 'mysql:8.0';
const GATE_DATABASE = 'alembic_gate';
const READY_TIMEOUT_MS = 90_000;

// The slice of testcontainers we use (typed here: the package is optional).
interface StartedContainer {
  getHost(): string;
  getMappedPort(port: number): number;
  stop(): Promise<unknown>;
}
interface ContainerBuilder {
  withEnvironment(env: Record<string, string>): ContainerBuilder;
  withExposedPorts(...ports: number[]): ContainerBuilder;
  withTmpFs(tmpfs: Record<string, string>): ContainerBuilder;
  withCommand(cmd: string[]): ContainerBuilder;
  start(): Promise<StartedContainer>;
}
interface TestcontainersModule {
  GenericContainer: new (image: string) => ContainerBuilder;
}

export function containerImage(env: NodeJS.ProcessEnv = process.env): string {
  return env.ALEMBIC_GATE_MYSQL_IMAGE?.trim() || DEFAULT_IMAGE;
}

export async function provisionContainer(engine: DatabaseEngine, opts: { log?: (msg: string) => void } = {}): Promise<MysqlServer> {
  await checkDocker();
  let mod: TestcontainersModule;
  try {
    const specifier: string = 'testcontainers';
    mod = (await import(specifier)) as TestcontainersModule;
  } catch (err) {
    throw new Error(`testcontainers is not installed (an optional dependency: npm install testcontainers): ${(err as Error).message}`);
  }
  const image = containerImage();
  const password = randomBytes(12).toString('hex');
  let started: StartedContainer | undefined;
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
    started = await new mod.GenericContainer(image)
      .withEnvironment({ MYSQL_ROOT_PASSWORD: password, MARIADB_ROOT_PASSWORD: password })
      .withExposedPorts(3306)
      .withTmpFs({ '/var/lib/mysql': 'rw' })
      .withCommand(['--skip-log-bin', '--sync-binlog=0', '--innodb-flush-log-at-trx-commit=0', '--innodb-doublewrite=OFF', '--character-set-server=utf8mb4'])
      .start();
    const admin: MysqlConnection = { host: started.getHost(), port: started.getMappedPort(3306), user: 'root', password };
    await waitReady(admin);
    const facts = await withConnection(admin, async (c) => {
      await c.query(`CREATE DATABASE ${quoteIdent(GATE_DATABASE)}`);
      return serverFacts(c);
    });
    return new MysqlServer(engine, {
      provider: 'container',
      admin,
      project: { host: admin.host, port: admin.port },
      projectAdmin: { user: 'root', password },
      facts,
      database: GATE_DATABASE,
      shared: false,
      teardown: stop,
      afterDispose: unregister,
    });
  } catch (err) {
    try {
      await stop();
    } finally {
      unregister();
    }
    throw new Error(`could not start ${image} with testcontainers: ${(err as Error).message}`);
  }
}

/** The image's entrypoint runs a temporary server first: wait for the real one. */
async function waitReady(admin: MysqlConnection): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  for (;;) {
    try {
      const c = await connect(admin);
      await c.end().catch(() => c.destroy());
      return;
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 250));
    }
  }
}
