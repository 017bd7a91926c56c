// The options table (src/options/spec.ts) is the one vocabulary of the command line and the
// action: --help, action.yml and the README are held to it here, and its parser gives the same
// verdict and the same message whichever side a value comes from.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseInputs } from '../../src/action/inputs.js';
import { ENGINE_IDS } from '../../src/engines/index.js';
import { OptionError, parseOption, parseOptions, toGateOptions } from '../../src/options/parse.js';
import { OPTION_LIST, OPTIONS, type OptionSpec } from '../../src/options/spec.js';
import { cliArgsConfig, cliUsage } from '../../src/options/usage.js';
import { CHECK_IDS } from '../../src/report/types.js';

const ROOT = join(import.meta.dirname, '..', '..');
const squash = (s: string): string => s.replace(/\s+/g, ' ').trim();

/** A YAML scalar written inline: plain, 'single' ('' for ') or "double" quoted. */
function scalar(text: string): string {
  const t = text.trim();
  if (t.startsWith("'") && t.endsWith("'")) return t.slice(1, -1).replace(/''/g, "'");
  if (t.startsWith('"') && t.endsWith('"')) return JSON.parse(t) as string;
  return t;
}

/** action.yml's inputs: name -> description (folded) and default, from the file's two-space layout. */
function actionYmlInputs(): Map<string, { description?: string; default?: string }> {
  const lines = readFileSync(join(ROOT, 'action.yml'), 'utf8').split('\n');
  const inputs = new Map<string, { description?: string; default?: string }>();
  let inside = false;
  let current: { description?: string; default?: string } | undefined;
  let folding: 'description' | 'default' | undefined;
  for (const line of lines) {
    if (/^\S/.test(line)) {
      inside = line.startsWith('inputs:');
      current = undefined;
      continue;
    }
    if (!inside) continue;
    const key = /^ {2}([A-Za-z0-9_-]+):\s*$/.exec(line);
    if (key) {
      current = {};
      inputs.set(key[1]!, current);
      folding = undefined;
      continue;
    }
    const prop = /^ {4}(description|default|required):(.*)$/.exec(line);
    if (prop && current) {
      folding = undefined;
      const value = prop[2]!.trim();
      if (prop[1] === 'required') continue;
      const name = prop[1] as 'description' | 'default';
      if (value === '>-' || value === '>') {
        folding = name;
        current[name] = '';
      } else current[name] = scalar(value);
      continue;
    }
    if (folding && current && /^ {6}/.test(line)) current[folding] = `${current[folding]} ${line.trim()}`.trim();
  }
  return inputs;
}

/** The flags of the README's command-line block (the fenced block after "## Command line"). */
function readmeFlags(md: string): string[] {
  const start = md.indexOf('## Command line');
  const block = md.slice(md.indexOf('```', start) + 3, md.indexOf('```', md.indexOf('```', start) + 3));
  return [...block.matchAll(/^ {2}--([a-z-]+)/gm)].map((m) => m[1]!);
}

/** The README's Inputs table: name -> default cell (backticks dropped, "(empty)" as ''). */
function readmeInputs(md: string): Map<string, string> {
  const lines = md.split('\n');
  const start = lines.findIndex((l) => /^#{2,4} Inputs/.test(l));
  const rows = new Map<string, string>();
  for (const line of lines.slice(start + 1)) {
    if (/^#{1,4} /.test(line)) break;
    const m = /^\|\s*`([A-Za-z0-9_-]+)`\s*\|\s*([^|]*?)\s*\|/.exec(line);
    if (m) rows.set(m[1]!, m[2] === '(empty)' ? '' : m[2]!.replace(/`/g, ''));
  }
  return rows;
}

const cliSpecs = OPTION_LIST.filter((s) => s.cli);
const inputSpecs = OPTION_LIST.filter((s) => s.input);
const yamlDefault = (s: OptionSpec): string => s.input!.yamlDefault ?? s.default ?? '';

describe('the options table agrees with action.yml, --help and the README', () => {
  const yml = actionYmlInputs();

  it('action.yml declares exactly the inputs of the table', () => {
    expect([...yml.keys()].sort()).toEqual(inputSpecs.map((s) => s.input!.name).sort());
  });

  it.each(inputSpecs.map((s) => [s.input!.name, s] as const))("action.yml's %s has the table's default and description", (name, spec) => {
    const declared = yml.get(name)!;
    expect(declared.default ?? '').toBe(yamlDefault(spec));
    expect(squash(declared.description ?? '')).toBe(squash(spec.input!.description));
  });

  it('--help lists every flag of the table with its help, and nothing else', () => {
    const usage = cliUsage();
    for (const s of cliSpecs) {
      const entry = `--${s.cli!.flag}${s.cli!.arg ? ` ${s.cli!.arg}` : ''}`;
      expect(usage.split('\n').some((l) => l.startsWith(`  ${entry} `)), entry).toBe(true);
      expect(squash(usage)).toContain(squash(`${entry} ${s.cli!.help}`));
    }
    const listed = [...usage.matchAll(/^ {2}(?:-h, )?--([a-z-]+)/gm)].map((m) => m[1]!);
    expect(listed).toEqual([...cliSpecs.map((s) => s.cli!.flag), 'help', 'version']);
    for (const line of usage.split('\n')) expect(line.length, line).toBeLessThanOrEqual(100);
  });

  it('parseArgs takes exactly the flags of the table (plus --help and --version)', () => {
    const config = cliArgsConfig();
    expect(Object.keys(config).sort()).toEqual([...cliSpecs.map((s) => s.cli!.flag), 'help', 'version'].sort());
    for (const s of cliSpecs) expect(config[s.cli!.flag]!.type).toBe(s.kind === 'bool' ? 'boolean' : 'string');
  });

  it("the README's command-line block lists every flag of the table", () => {
    const md = readFileSync(join(ROOT, 'README.md'), 'utf8');
    expect(readmeFlags(md).sort()).toEqual(cliSpecs.map((s) => s.cli!.flag).sort());
  });

  it("the README's Inputs table has every input with the table's default", () => {
    const rows = readmeInputs(readFileSync(join(ROOT, 'README.md'), 'utf8'));
    expect([...rows.keys()].sort()).toEqual(inputSpecs.map((s) => s.input!.name).sort());
    for (const s of inputSpecs) {
      const cell = rows.get(s.input!.name)!;
      if (s.key === 'failOn') expect(cell).toBe('all checks');
      else expect(cell, s.input!.name).toBe(yamlDefault(s));
    }
  });

  it('engine takes auto and every engine id, and says so on both sides', () => {
    expect(OPTIONS.engine.values).toEqual(['auto', ...ENGINE_IDS]);
    for (const id of ENGINE_IDS) {
      expect(OPTIONS.engine.cli.help).toContain(id);
      expect(OPTIONS.engine.input.description).toContain(id);
    }
    expect(OPTIONS.engine.cli.help).toContain(`the database engine to gate on: auto (from the project's sqlalchemy.url), or one of ${ENGINE_IDS.join(', ')}`);
  });

  it("every option's default is a value it accepts", () => {
    for (const s of OPTION_LIST) {
      if (s.default === undefined) continue;
      if (s.cli) expect(() => parseOption(s, 'cli', s.default), s.key).not.toThrow();
      if (s.input) expect(() => parseOption(s, 'action', s.default), s.key).not.toThrow();
    }
  });
});

/** The message for `value` given to option `key` on the command line and in the action. */
function messages(key: keyof typeof OPTIONS, cli: string | string[] | undefined, action: string | undefined): { cli?: string; action?: string } {
  const spec: OptionSpec = OPTIONS[key];
  const out: { cli?: string; action?: string } = {};
  const catchIt = (f: () => unknown): string => {
    try {
      f();
    } catch (e) {
      expect(e).toBeInstanceOf(OptionError);
      return (e as Error).message;
    }
    throw new Error(`${key}: no error`);
  };
  if (cli !== undefined) out.cli = catchIt(() => parseOption(spec, 'cli', cli));
  if (action !== undefined) out.action = catchIt(() => parseOption(spec, 'action', action));
  return out;
}

describe('the parser, kind by kind, with one message for both sides', () => {
  it('enum: a listed value; anything else (case included) names the values', () => {
    expect(parseOption(OPTIONS.roundtrip, 'cli', 'all')).toBe('all');
    expect(parseOption(OPTIONS.roundtrip, 'action', 'all')).toBe('all');
    expect(messages('roundtrip', 'sometimes', 'sometimes')).toEqual({
      cli: "--roundtrip: 'sometimes' is not one of new, all, none.",
      action: "Input 'roundtrip': 'sometimes' is not one of new, all, none.",
    });
    expect(messages('comment', undefined, 'Always')).toEqual({ action: "Input 'comment': 'Always' is not one of always, on-failure, never." });
    expect(messages('format', 'yaml', undefined)).toEqual({ cli: "--format: 'yaml' is not one of text, markdown, json." });
  });

  it('enum engine: auto or an engine id', () => {
    for (const id of ENGINE_IDS) {
      expect(parseOption(OPTIONS.engine, 'cli', id)).toBe(id);
      expect(parseOption(OPTIONS.engine, 'action', id)).toBe(id);
    }
    expect(parseOption(OPTIONS.engine, 'cli', undefined)).toBe('auto');
    expect(parseOption(OPTIONS.engine, 'action', '')).toBe('auto');
    const values = ['auto', ...ENGINE_IDS].join(', ');
    expect(messages('engine', 'oracle', 'oracle')).toEqual({
      cli: `--engine: 'oracle' is not one of ${values}.`,
      action: `Input 'engine': 'oracle' is not one of ${values}.`,
    });
  });

  it('int: a whole number in range; else the range', () => {
    expect(parseOption(OPTIONS.seedRows, 'cli', '0')).toBe(0);
    expect(parseOption(OPTIONS.seedRows, 'action', '100000')).toBe(100_000);
    for (const bad of ['lots', '-1', '2.5', '100001', ' 5']) {
      expect(messages('seedRows', bad, bad.trim() === '5' ? undefined : bad)).toEqual({
        cli: `--seed-rows: '${bad}' is not a number of rows per table (0 to 100000; 0 turns the synthetic rows off).`,
        ...(bad.trim() === '5' ? {} : { action: `Input 'seed-rows': '${bad}' is not a number of rows per table (0 to 100000; 0 turns the synthetic rows off).` }),
      });
    }
  });

  it('duration: seconds or a unit, at least 1s', () => {
    expect(parseOption(OPTIONS.stepTimeoutMs, 'cli', '600')).toBe(600_000);
    expect(parseOption(OPTIONS.stepTimeoutMs, 'cli', '90s')).toBe(90_000);
    expect(parseOption(OPTIONS.stepTimeoutMs, 'action', '10m')).toBe(600_000);
    expect(parseOption(OPTIONS.stepTimeoutMs, 'action', '1h')).toBe(3_600_000);
    expect(parseOption(OPTIONS.stepTimeoutMs, 'cli', undefined)).toBe(600_000);
    expect(messages('stepTimeoutMs', 'forever', 'forever')).toEqual({
      cli: "--step-timeout: 'forever' is not a duration; use seconds (600) or a unit (90s, 10m, 1h).",
      action: "Input 'step-timeout': 'forever' is not a duration; use seconds (600) or a unit (90s, 10m, 1h).",
    });
    expect(messages('stepTimeoutMs', '0.5', '0')).toEqual({
      cli: "--step-timeout: '0.5' is too short; a step needs at least 1s.",
      action: "Input 'step-timeout': '0' is too short; a step needs at least 1s.",
    });
    expect(messages('stepTimeoutMs', '1e3', '-5')).toEqual({
      cli: "--step-timeout: '1e3' is not a duration; use seconds (600) or a unit (90s, 10m, 1h).",
      action: "Input 'step-timeout': '-5' is not a duration; use seconds (600) or a unit (90s, 10m, 1h).",
    });
  });

  it('bool: a flag on the command line, a YAML boolean in the action', () => {
    expect(parseOption(OPTIONS.allowIrreversible, 'cli', true)).toBe(true);
    expect(parseOption(OPTIONS.allowIrreversible, 'cli', undefined)).toBe(false);
    expect(parseOption(OPTIONS.allowIrreversible, 'action', 'TRUE')).toBe(true);
    expect(parseOption(OPTIONS.allowIrreversible, 'action', 'false')).toBe(false);
    expect(messages('allowIrreversible', undefined, 'yes')).toEqual({ action: "Input 'allow-irreversible': 'yes' is not a boolean; use true or false." });
    expect(messages('allowPullRequestTarget', undefined, '1')).toEqual({ action: "Input 'allow-pull-request-target': '1' is not a boolean; use true or false." });
  });

  it('list of check ids: separated by commas or spaces, all / none; an unknown id or an empty list is named', () => {
    expect(parseOption(OPTIONS.failOn, 'cli', 'roundtrip,Drift, roundtrip')).toEqual(['roundtrip', 'drift']);
    expect(parseOption(OPTIONS.failOn, 'action', 'roundtrip\ndrift heads')).toEqual(['roundtrip', 'drift', 'heads']);
    expect(parseOption(OPTIONS.failOn, 'cli', 'none')).toEqual([]);
    expect(parseOption(OPTIONS.failOn, 'action', 'all')).toEqual([...CHECK_IDS]);
    expect(parseOption(OPTIONS.failOn, 'cli', undefined)).toEqual([...CHECK_IDS]);
    const usage = `use check ids from ${CHECK_IDS.join(', ')} (or 'all' / 'none').`;
    expect(messages('failOn', 'roundtrip,speed', 'roundtrip speed')).toEqual({
      cli: `--fail-on: unknown check 'speed'; ${usage}`,
      action: `Input 'fail-on': unknown check 'speed'; ${usage}`,
    });
    expect(messages('failOn', ' , ', ',')).toEqual({ cli: `--fail-on: ' , ' names no check; ${usage}`, action: `Input 'fail-on': ',' names no check; ${usage}` });
  });

  it('list of variable names: one per --flag, separated in the action; a bad name is named', () => {
    expect(parseOption(OPTIONS.urlEnvVars, 'cli', ['SQLALCHEMY_URL', 'APP_DB'])).toEqual(['SQLALCHEMY_URL', 'APP_DB']);
    expect(parseOption(OPTIONS.urlEnvVars, 'action', 'SQLALCHEMY_URL, APP_DB')).toEqual(['SQLALCHEMY_URL', 'APP_DB']);
    expect(parseOption(OPTIONS.passEnv, 'cli', undefined)).toEqual([]);
    expect(messages('urlEnvVars', ['OK', '1BAD'], 'OK\n1BAD')).toEqual({
      cli: "--url-env: '1BAD' is not an environment variable name.",
      action: "Input 'database-url-env': '1BAD' is not an environment variable name.",
    });
    // one name per --pass-env: a separated list is not split on the command line
    expect(messages('passEnv', ['A,B'], 'A NOT-A-NAME')).toEqual({
      cli: "--pass-env: 'A,B' is not an environment variable name.",
      action: "Input 'pass-env': 'NOT-A-NAME' is not an environment variable name.",
    });
  });

  it('string: free text, or checked by its pattern; a URL is never quoted back (it may hold a password)', () => {
    expect(parseOption(OPTIONS.python, 'cli', 'poetry run python')).toBe('poetry run python');
    expect(parseOption(OPTIONS.postgresVersion, 'action', '16')).toBe('16');
    expect(messages('postgresVersion', 'latest', 'latest')).toEqual({
      cli: "--postgres-version: 'latest' is not a PostgreSQL version; use a major version such as 16.",
      action: "Input 'postgres-version': 'latest' is not a PostgreSQL version; use a major version such as 16.",
    });
    expect(parseOption(OPTIONS.databaseUrl, 'cli', 'postgresql+psycopg://u:p@h:5432/d')).toBe('postgresql+psycopg://u:p@h:5432/d');
    const m = messages('databaseUrl', 'oracle://u:secret@h/d', 'u:secret@h:5432/d');
    expect(m.cli).toMatch(/^--database-url: expected a database server URL such as <dialect>:\/\/user:password@host:port\/database, the dialect one of /);
    expect(m.action).toMatch(/^Input 'database-url': expected a database server URL such as/);
    expect(JSON.stringify(m)).not.toContain('secret');
  });

  it('path: a path', () => {
    expect(parseOption(OPTIONS.alembicConfig, 'cli', 'db/alembic.ini')).toBe('db/alembic.ini');
    expect(parseOption(OPTIONS.alembicConfig, 'action', '')).toBe('alembic.ini');
    expect(parseOption(OPTIONS.seedSql, 'action', '')).toBeUndefined();
  });

  it('an empty value on the command line is a mistake; in the action it is the default', () => {
    expect(messages('roundtrip', '', undefined)).toEqual({ cli: '--roundtrip: the value is empty; leave --roundtrip out for its default.' });
    expect(messages('urlEnvVars', ['A', ' '], undefined)).toEqual({ cli: '--url-env: the value is empty; leave --url-env out for its default.' });
    expect(parseOption(OPTIONS.roundtrip, 'action', '  ')).toBe('new');
  });

  it('--python falls back on $ALEMBIC_GATE_PYTHON, the input does not', () => {
    expect(parseOptions('cli', {}, { ALEMBIC_GATE_PYTHON: 'uv run python' }).python).toBe('uv run python');
    expect(parseOptions('cli', { python: 'python3.12' }, { ALEMBIC_GATE_PYTHON: 'uv run python' }).python).toBe('python3.12');
    expect(parseOptions('cli', {}, {}).python).toBe('python3');
    expect(parseInputs({}).python).toBe('python3');
  });
});

describe('parseOptions: both sides, whole', () => {
  it('the command line gets its flags, the action its inputs, with the same defaults for what they share', () => {
    const cli = parseOptions('cli', {});
    const action = parseOptions('action', {});
    expect(Object.keys(cli).sort()).toEqual(cliSpecs.map((s) => s.key).sort());
    expect(Object.keys(action).sort()).toEqual(inputSpecs.map((s) => s.key).sort());
    for (const s of OPTION_LIST) if (s.cli && s.input) expect((cli as Record<string, unknown>)[s.key], s.key).toEqual((action as Record<string, unknown>)[s.key]);
    expect(cli).toMatchObject({ engine: 'auto', provider: 'auto', roundtrip: 'new', stepTimeoutMs: 600_000, seedRows: 5, failOn: [...CHECK_IDS], urlEnvVars: [], passEnv: [] });
  });

  it('provider url needs a database URL, named as each side names it; a database URL makes auto url', () => {
    expect(() => parseOptions('cli', { provider: 'url' })).toThrow("--provider: 'url' needs --database-url (a server on which a throwaway database may be created).");
    expect(() => parseOptions('action', { provider: 'url' })).toThrow("Input 'provider': 'url' needs the 'database-url' input (a server on which a throwaway database may be created).");
    expect(parseOptions('cli', { 'database-url': 'postgresql://u@h/d' }).provider).toBe('url');
    expect(parseOptions('action', { 'database-url': 'postgresql://u@h/d' }).provider).toBe('url');
    expect(parseOptions('cli', { 'database-url': 'postgresql://u@h/d', provider: 'local' }).provider).toBe('local');
  });

  it('toGateOptions carries engine and every shared option into GateOptions', () => {
    const cli = parseOptions('cli', { engine: ENGINE_IDS[0]!, 'url-env': ['APP_DB'], 'seed-rows': '0', 'step-timeout': '90s' });
    const g = toGateOptions(cli, { repoRoot: '/r', workingDirectory: '/r/app', base: 'main', head: 'HEAD' });
    expect(g).toMatchObject({ repoRoot: '/r', workingDirectory: '/r/app', base: 'main', head: 'HEAD', engine: ENGINE_IDS[0], urlEnvVars: ['APP_DB'], seedRows: 0, stepTimeoutMs: 90_000 });
  });
});
