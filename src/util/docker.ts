// Whether a Docker engine answers, before an optional container provider (testcontainers) is
// loaded: a machine without one fails in well under a second instead of timing out.
import { existsSync } from 'node:fs';
import { request } from 'node:http';
import { homedir } from 'node:os';
import { join } from 'node:path';

const PING_TIMEOUT_MS = 3_000;

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
