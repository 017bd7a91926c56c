// The engine seam (src/engines/): which engine a project's URL picks, and the rule that nothing
// outside an engine's folder names it.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { chooseEngine, DEFAULT_ENGINE, ENGINE_IDS, ENGINES, engineOfUrl, unsupportedDialect } from '../../src/engines/index.js';
import { iniUrl } from '../../src/alembic/project-config.js';

const root = join(import.meta.dirname, '..', '..');

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sources(path);
    return /\.(ts|py)$/.test(name) ? [path] : [];
  });
}

describe('engines', () => {
  it('each engine lives in src/engines/<id>/ and no other source file names an engine id as a literal', () => {
    for (const id of ENGINE_IDS) expect(statSync(join(root, 'src', 'engines', id, 'engine.ts')).isFile(), id).toBe(true);
    const offenders: string[] = [];
    for (const file of sources(join(root, 'src'))) {
      const rel = relative(root, file);
      // The worker speaks SQLAlchemy's dialect names, which are the ids; each engine's folder may name itself.
      if (rel.startsWith('src/worker/') || ENGINE_IDS.some((id) => rel.startsWith(`src/engines/${id}/`))) continue;
      const text = readFileSync(file, 'utf8');
      for (const id of ENGINE_IDS) {
        const literal = new RegExp(`(['"\`])${id}\\1`);
        text.split('\n').forEach((line, i) => {
          if (literal.test(line) && !/^\s*(\/\/|\*|\/\*\*)/.test(line)) offenders.push(`${rel}:${i + 1}: ${line.trim()}`);
        });
      }
    }
    expect(offenders).toEqual([]);
  });

  it('the URL picks the engine; --engine overrides it; unknown schemes keep the default', () => {
    expect(engineOfUrl('sqlite:///app.db')?.name).toBe('SQLite');
    expect(engineOfUrl('sqlite+aiosqlite:///./data/app.db')?.name).toBe('SQLite');
    expect(engineOfUrl('postgresql+psycopg://u:p@db/app')?.name).toBe('PostgreSQL');
    expect(engineOfUrl('postgres://u@db/app')?.name).toBe('PostgreSQL');
    for (const url of ['mysql://u:p@db/app', 'mysql+pymysql://u:p@db/app', 'mysql+mysqldb://u@db/app', 'mariadb+mariadbconnector://u@db/app']) {
      expect(engineOfUrl(url)?.name, url).toBe('MySQL');
    }
    expect(engineOfUrl('mssql+pyodbc://u:p@db/app')).toBeUndefined();
    expect(engineOfUrl('driver://user:pass@localhost/dbname')).toBeUndefined(); // alembic init's placeholder
    expect(chooseEngine('auto', 'sqlite:///app.db')).toEqual({ engine: ENGINES.find((e) => e.name === 'SQLite'), fixed: false });
    expect(chooseEngine('auto', null)).toEqual({ engine: DEFAULT_ENGINE, fixed: false });
    expect(chooseEngine(DEFAULT_ENGINE.id, 'sqlite:///app.db')).toEqual({ engine: DEFAULT_ENGINE, fixed: true });
    expect(() => chooseEngine('oracle', null)).toThrow(`unknown engine "oracle": one of auto, ${ENGINE_IDS.join(', ')}`);
  });

  it('a SQL Server URL is not silently run on another engine', () => {
    expect(unsupportedDialect('mssql+pyodbc://app:secret@db/app')).toBe(
      `the project's sqlalchemy.url names mssql (mssql+pyodbc://...), and alembic-gate has no mssql engine yet (it runs PostgreSQL, SQLite and MySQL): pass --engine ${DEFAULT_ENGINE.id} (action input engine) to test the migrations on PostgreSQL anyway`,
    );
    expect(unsupportedDialect('mysql+pymysql://app:secret@db/app')).toBeNull(); // MySQL has an engine now
    expect(unsupportedDialect('sqlite:///app.db')).toBeNull();
    expect(unsupportedDialect('driver://user:pass@localhost/dbname')).toBeNull();
    expect(unsupportedDialect(null)).toBeNull();
  });

  it('iniUrl reads [alembic] sqlalchemy.url plainly, else the first section that has one', () => {
    const at = (name: string) => join(root, 'test', 'fixtures', name);
    expect(iniUrl(join(at('sqlite-notes'), 'base', 'alembic.ini'))).toBe('sqlite:///app.db');
    expect(iniUrl(join(root, 'test', 'fixtures', 'no-such', 'alembic.ini'))).toBeNull();
    expect(iniUrl(null)).toBeNull();
  });
});
