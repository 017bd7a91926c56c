// The engines the gate can run a project on, and how one is chosen for a project.
import type { DatabaseEngine } from './engine.js';
import { mysqlEngine } from './mysql/engine.js';
import { postgresqlEngine } from './postgresql/engine.js';
import { sqliteEngine } from './sqlite/engine.js';

export type * from './engine.js';
export { ProvisionError, MIGRATION_ROLES } from './engine.js';

/** Every engine, the default first. */
export const ENGINES: readonly DatabaseEngine[] = [postgresqlEngine, sqliteEngine, mysqlEngine];

export type EngineId = (typeof postgresqlEngine | typeof sqliteEngine | typeof mysqlEngine)['id'];

/** The ids --engine takes besides `auto`. */
export const ENGINE_IDS: readonly EngineId[] = ENGINES.map((e) => e.id as EngineId);

/** The default engine: where a project's URL says nothing. */
export const DEFAULT_ENGINE: DatabaseEngine = ENGINES[0]!;

export function engineById(id: string): DatabaseEngine | undefined {
  return ENGINES.find((e) => e.id === id);
}

/** The engine of a SQLAlchemy URL (`sqlite:///app.db`, `postgresql+psycopg://...`), if one of ours. */
export function engineOfUrl(url: string): DatabaseEngine | undefined {
  const dialect = dialectOfUrl(url);
  return dialect ? ENGINES.find((e) => e.dialects.includes(dialect)) : undefined;
}

/** The dialect a SQLAlchemy URL names (`mssql` for `mssql+pyodbc://...`), lower-cased. */
export function dialectOfUrl(url: string): string | null {
  const m = /^([A-Za-z][A-Za-z0-9]*)(\+[A-Za-z0-9_]+)?:\/\//.exec(url.trim());
  return m ? m[1]!.toLowerCase() : null;
}

export interface EngineChoice {
  engine: DatabaseEngine;
  /** --engine named it: the project's URL does not change it. */
  fixed: boolean;
}

/** The engine for `--engine` (auto: the one the project's URL names, else the default). */
export function chooseEngine(option: string, url: string | null): EngineChoice {
  if (option !== 'auto') {
    const engine = engineById(option);
    if (!engine) throw new Error(`unknown engine "${option}": one of auto, ${ENGINE_IDS.join(', ')}`);
    return { engine, fixed: true };
  }
  return { engine: (url ? engineOfUrl(url) : undefined) ?? DEFAULT_ENGINE, fixed: false };
}

/**
 * Why a project whose URL names a dialect no engine of ours runs cannot be gated as it is
 * (null: nothing to say). Testing a SQL Server project on another engine would fail its
 * SQL Server-only statements and pass what SQL Server refuses.
 */
export function unsupportedDialect(url: string | null): string | null {
  const dialect = url ? dialectOfUrl(url) : null;
  if (!dialect || engineOfUrl(url!) || !KNOWN_DIALECTS.has(dialect)) return null;
  return (
    `the project's sqlalchemy.url names ${dialect} (${url!.split('://')[0]}://...), and alembic-gate has no ${dialect} engine yet (it runs ${listed(ENGINES.map((e) => e.name))}): ` +
    `pass --engine ${DEFAULT_ENGINE.id} (action input engine) to test the migrations on ${DEFAULT_ENGINE.name} anyway`
  );
}

/** "a", "a and b", "a, b and c". */
const listed = (names: string[]): string => (names.length < 2 ? names.join('') : `${names.slice(0, -1).join(', ')} and ${names[names.length - 1]}`);

/** SQLAlchemy's own dialects: a URL naming one of these is a real project's, not a placeholder. */
const KNOWN_DIALECTS = new Set(['mssql', 'oracle']);

export function engineName(id: string): string {
  return engineById(id)?.name ?? id;
}
