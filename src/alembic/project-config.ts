// Where a project keeps its Alembic configuration. Three shapes exist in the wild:
// - alembic.ini with script_location (`alembic init`);
// - pyproject.toml with [tool.alembic] (Alembic 1.16+, `alembic init -t pyproject`), with or
//   without an alembic.ini beside it for logging and the URL;
// - Flask-Migrate's migrations/alembic.ini, which has no script_location: the scripts are the
//   ini's own directory, and env.py needs the Flask app (`flask db upgrade` builds it).
import { existsSync, readFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { UserError } from '../util/errors.js';

export type ConfigShape = 'ini' | 'pyproject' | 'flask';

export interface ProjectConfig {
  shape: ConfigShape;
  /** The file that says where the scripts are (shown in the report): an ini or pyproject.toml. */
  config: string;
  /** alembic.ini to load, if any (pyproject projects may have one for logging and the URL). */
  ini: string | null;
  /** pyproject.toml to load, if it has [tool.alembic]. */
  toml: string | null;
  /** Directory the Alembic commands run from (`alembic` in the config's directory, `flask` in the project's). */
  cwd: string;
}

const DEFAULT_INI = 'alembic.ini';

/** Whether an ini's [alembic] section names script_location (a plain read: no interpolation needed). */
export function iniHasScriptLocation(path: string): boolean {
  let section = '';
  for (const raw of readFileSync(path, 'utf8').split(/\r?\n/)) {
    const line = raw.trim();
    const header = /^\[([^\]]+)\]$/.exec(line);
    if (header) section = header[1]!.trim();
    else if (section === 'alembic' && /^script_location\s*[=:]/.test(line)) return true;
  }
  return false;
}

export function tomlHasAlembic(path: string): boolean {
  return existsSync(path) && /^\s*\[tool\.alembic[\].]/m.test(readFileSync(path, 'utf8'));
}

/**
 * The project's configuration, from `configPath` (relative to `workingDirectory`; the default
 * name `alembic.ini` is looked for, then pyproject.toml, then Flask-Migrate's migrations/alembic.ini).
 */
export function locateProjectConfig(workingDirectory: string, configPath: string): ProjectConfig {
  const wd = resolve(workingDirectory);
  const given = resolve(wd, configPath);
  if (existsSync(given)) {
    if (basename(given) === 'pyproject.toml') {
      if (!tomlHasAlembic(given)) throw new UserError(`${given} has no [tool.alembic] section: run \`alembic init -t pyproject\` (Alembic 1.16+) or pass --config with your alembic.ini`);
      const ini = join(dirname(given), DEFAULT_INI);
      return { shape: 'pyproject', config: given, ini: existsSync(ini) ? ini : null, toml: given, cwd: dirname(given) };
    }
    return fromIni(given, wd);
  }
  if (configPath !== DEFAULT_INI) {
    throw new UserError(`no Alembic config at ${given}: pass --config (action input alembic-config) with the path of your alembic.ini or pyproject.toml, relative to ${wd}`);
  }
  const toml = join(wd, 'pyproject.toml');
  if (tomlHasAlembic(toml)) return { shape: 'pyproject', config: toml, ini: null, toml, cwd: wd };
  const flask = join(wd, 'migrations', DEFAULT_INI);
  if (existsSync(flask)) return fromIni(flask, wd);
  throw new UserError(
    `no Alembic config in ${wd}: looked for alembic.ini, pyproject.toml with [tool.alembic] and migrations/alembic.ini (Flask-Migrate). Pass --config (action input alembic-config) with the path of yours, relative to ${wd}`,
  );
}

function fromIni(ini: string, wd: string): ProjectConfig {
  const dir = dirname(ini);
  const toml = join(dir, 'pyproject.toml');
  const withToml = tomlHasAlembic(toml) ? toml : null;
  if (iniHasScriptLocation(ini)) return { shape: 'ini', config: ini, ini, toml: withToml, cwd: dir };
  if (withToml) return { shape: 'pyproject', config: withToml, ini, toml: withToml, cwd: dir };
  // Flask-Migrate: the ini sits in the migrations directory next to env.py; `flask` runs from the project.
  if (existsSync(join(dir, 'env.py'))) return { shape: 'flask', config: ini, ini, toml: null, cwd: dir === wd ? dirname(dir) : wd };
  return { shape: 'ini', config: ini, ini, toml: null, cwd: dir };
}

/**
 * The `sqlalchemy.url` an ini names, read plainly (the [alembic] section's, else the first
 * section's that has one, as a multidb ini has): enough to tell the engine before any Python
 * runs. The worker reads the real one (interpolated, or the Flask app's) once it has loaded.
 */
export function iniUrl(path: string | null): string | null {
  if (!path || !existsSync(path)) return null;
  let section = '';
  let first: string | null = null;
  for (const raw of readFileSync(path, 'utf8').split(/\r?\n/)) {
    const line = raw.trim();
    const header = /^\[([^\]]+)\]$/.exec(line);
    if (header) {
      section = header[1]!.trim();
      continue;
    }
    const m = /^sqlalchemy\.url\s*[=:]\s*(.*)$/.exec(line);
    if (!m || !m[1]) continue;
    if (section === 'alembic') return m[1].trim();
    first ??= m[1].trim();
  }
  return first;
}
