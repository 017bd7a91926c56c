// The hidden marker that finds our sticky comment again: one comment per pull request and per
// configuration (working directory + alembic config), so two gate steps in one workflow
// (e.g. two services in a monorepo) keep separate comments.
import { createHash } from 'node:crypto';
import { posix } from 'node:path';

export function configKey(workingDirectory: string, alembicConfig: string): string {
  const norm = (p: string): string => posix.normalize(p.replace(/\\/g, '/')).replace(/\/+$/, '') || '.';
  return `${norm(workingDirectory)}\0${norm(alembicConfig)}`;
}

export function markerFor(workingDirectory: string, alembicConfig: string): string {
  const hash = createHash('sha256').update(configKey(workingDirectory, alembicConfig)).digest('hex').slice(0, 16);
  return `<!-- alembic-gate:${hash} -->`;
}

/** True when a comment body is one of ours for this configuration: the marker opens it. */
export function carriesMarker(body: string | null | undefined, marker: string): boolean {
  return typeof body === 'string' && body.trimStart().startsWith(marker);
}
