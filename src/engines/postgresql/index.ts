// The database layer's public surface: provision a throwaway PostgreSQL, talk to it, clean up.
export { connectionString, sqlalchemyUrl, withClient, clientConfig, quoteIdent } from './client.js';
export { registerCleanup, runCleanups } from '../../util/cleanup.js';
export { provisionDatabase, PROVIDER_NAMES, type ProviderName, type ProvisionOptions, type Provisioned } from './factory.js';
export { ProvisionError, type ConnectionInfo, type ProviderAttempt, type ThrowawayDatabase } from './provider.js';
export { parseDatabaseUrl, redactUrl } from './url.js';
