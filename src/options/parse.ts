// One parser for the table of src/options/spec.ts: raw strings from the command line (node's
// parseArgs values, keyed by flag) or from the action's inputs (keyed by input name) in, typed
// options out. The checks and the messages are the same on both sides; a message names the
// option as that side's user wrote it (`--step-timeout: ...`, `Input 'step-timeout': ...`).
import type { GateOptions } from '../engine/options.js';
import { OPTION_LIST, OPTIONS, optionLabel, optionReference, type ActionInputs, type CliOptions, type CommonOptions, type OptionSpec, type Side } from './spec.js';

/** A raw value: a string, one string per occurrence of a repeatable flag, or a boolean flag's presence. */
export type RawValue = string | readonly string[] | boolean | undefined;
/** Raw values keyed by the side's own names (CLI: flag without dashes; action: input name). */
export type RawOptions = Readonly<Record<string, RawValue>>;
export type Environment = Readonly<Record<string, string | undefined>>;

/** A value an option refuses; the message starts with the option's name as the user wrote it. */
export class OptionError extends Error {
  constructor(
    /** `--flag` or `Input 'name'`. */
    readonly option: string,
    /** The message without the name. */
    readonly reason: string,
  ) {
    super(`${option}: ${reason}`);
    this.name = 'OptionError';
  }
}

/**
 * Parses one side's raw values. An absent option gets its default; on the action side an empty
 * string is absent (the runner cannot tell them apart), on the command line an empty value is an
 * error. `env` gives the command line's environment defaults (ALEMBIC_GATE_PYTHON).
 */
export function parseOptions(side: 'cli', raw: RawOptions, env?: Environment): CliOptions;
export function parseOptions(side: 'action', raw: RawOptions): ActionInputs;
export function parseOptions(side: Side, raw: RawOptions, env: Environment = {}): CliOptions | ActionInputs {
  const out: Record<string, unknown> = {};
  for (const spec of OPTION_LIST) {
    const name = side === 'cli' ? spec.cli?.flag : spec.input?.name;
    if (name === undefined) continue;
    out[spec.key] = parseOption(spec, side, raw[name], env);
  }
  const o = out as unknown as CommonOptions;
  if (o.provider === 'url' && !o.databaseUrl) {
    throw new OptionError(optionLabel(OPTIONS.provider, side), `'url' needs ${optionReference(OPTIONS.databaseUrl, side)} (a server on which a throwaway database may be created).`);
  }
  // A database URL given without a provider means: use that server (never another one instead).
  if (o.provider === 'auto' && o.databaseUrl) o.provider = 'url';
  return out as unknown as CliOptions | ActionInputs;
}

/** One option's value from its raw form on one side. */
export function parseOption(spec: OptionSpec, side: Side, raw: RawValue, env: Environment = {}): unknown {
  const label = optionLabel(spec, side);
  const fail = (reason: string): never => {
    throw new OptionError(label, reason);
  };
  let given: string | readonly string[] | boolean | undefined = raw;
  if (side === 'action') {
    given = typeof raw === 'string' && raw.trim() !== '' ? raw.trim() : undefined;
  } else {
    for (const s of typeof raw === 'string' ? [raw] : Array.isArray(raw) ? raw : []) {
      if (s.trim() === '') fail(`the value is empty; leave ${label} out for its default.`);
    }
    if (given === undefined && spec.cli?.env) {
      const fromEnv = env[spec.cli.env];
      if (fromEnv !== undefined && fromEnv.trim() !== '') given = fromEnv;
    }
  }
  if (given === true) return true; // a boolean flag given on the command line
  if (given === undefined || given === false) {
    if (spec.default !== undefined) return parseValue(spec, spec.default, fail);
    return spec.kind === 'list' ? [] : spec.kind === 'bool' ? false : undefined;
  }
  if (typeof given !== 'string') return parseList(spec, given, fail);
  return parseValue(spec, given, fail);
}

function parseValue(spec: OptionSpec, v: string, fail: (reason: string) => never): unknown {
  const invalid = (value: string): never => fail(spec.invalid ? spec.invalid(value) : `'${value}' is not a valid value.`);
  switch (spec.kind) {
    case 'string':
    case 'path':
      if (spec.pattern && !spec.pattern.test(v)) invalid(v);
      if (spec.accepts && !spec.accepts(v)) invalid(v);
      return v;
    case 'enum':
      if (!spec.values!.includes(v)) invalid(v);
      return v;
    case 'int': {
      const n = Number(v);
      if (!/^\d+$/.test(v) || !Number.isSafeInteger(n) || n < (spec.min ?? 0) || n > (spec.max ?? Number.MAX_SAFE_INTEGER)) invalid(v);
      return n;
    }
    case 'duration': {
      const ms = durationMs(v);
      if (ms === undefined) invalid(v);
      if (ms! < (spec.min ?? 0)) fail(spec.tooShort ? spec.tooShort(v) : `'${v}' is too short.`);
      return ms;
    }
    case 'bool':
      // YAML 1.2 core booleans, as @actions/core's getBooleanInput takes them.
      if (['true', 'True', 'TRUE'].includes(v)) return true;
      if (['false', 'False', 'FALSE'].includes(v)) return false;
      return invalid(v);
    case 'list': {
      const items = v.split(/[\s,]+/).filter(Boolean);
      if (items.length === 0 && spec.empty) fail(spec.empty(v));
      return parseList(spec, items, fail);
    }
  }
}

/** A list's items: `all` / `none` where the option takes them, each item checked, duplicates dropped. */
function parseList(spec: OptionSpec, given: readonly string[], fail: (reason: string) => never): string[] {
  const items = spec.lowercase ? given.map((s) => s.toLowerCase()) : [...given];
  if (spec.allNone && items.length === 1 && items[0] === 'all') return [...spec.values!];
  if (spec.allNone && items.length === 1 && items[0] === 'none') return [];
  for (const item of items) {
    const ok = (!spec.values || spec.values.includes(item)) && (!spec.pattern || spec.pattern.test(item));
    if (!ok) fail(spec.invalid ? spec.invalid(item) : `'${item}' is not a valid item.`);
  }
  return [...new Set(items)];
}

/** Seconds ("600"), or a number with a unit: "1500ms", "90s", "10m", "1h"; undefined when it is none. */
export function durationMs(value: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)\s*(ms|s|m|min|h)?$/i.exec(value);
  if (!m) return undefined;
  const unit = (m[2] ?? 's').toLowerCase();
  const factor = unit === 'ms' ? 1 : unit === 's' ? 1000 : unit === 'h' ? 3_600_000 : 60_000;
  return Math.round(Number(m[1]) * factor);
}

/** The gate's options from either side's parsed options and where the run stands. */
export function toGateOptions(o: CommonOptions, at: { repoRoot: string; workingDirectory: string; base: string; head?: string }): GateOptions {
  return {
    repoRoot: at.repoRoot,
    workingDirectory: at.workingDirectory,
    alembicConfig: o.alembicConfig,
    base: at.base,
    head: at.head,
    python: o.python,
    provider: o.provider,
    engine: o.engine,
    databaseUrl: o.databaseUrl,
    postgresVersion: o.postgresVersion,
    roundtrip: o.roundtrip,
    failOn: o.failOn,
    stepTimeoutMs: o.stepTimeoutMs,
    urlEnvVars: o.urlEnvVars,
    foreignConnections: o.foreignConnections,
    migrationRole: o.migrationRole,
    passEnv: o.passEnv,
    flaskApp: o.flaskApp,
    allowIrreversible: o.allowIrreversible,
    bootstrap: o.bootstrap,
    seedRows: o.seedRows,
    seedSql: o.seedSql,
  };
}
