// Secrets the gate knows of (the comment token, database passwords, the values of secret-looking
// variables) are replaced by *** in every string of the report before it is rendered, written or
// posted: the PR's code can print what it finds, and the report carries what it prints.

export const REDACTED = '***';
/** Shorter values would blank ordinary words; a real token or password is longer. */
const MIN_LENGTH = 4;
/** Values guessed from variable names (not known secrets) must be longer still. */
const MIN_GUESSED_LENGTH = 8;

export interface SecretSources {
  /** Known secrets: the github token, values passed to core.setSecret. */
  known?: (string | undefined)[];
  /** Database URLs whose passwords are secret. */
  urls?: (string | undefined)[];
  /** Values of variables whose names look like secrets. */
  guessed?: string[];
}

/** The distinct secret strings, longest first (so a secret that contains another is replaced whole). */
export function secretList(src: SecretSources): string[] {
  const out = new Set<string>();
  const add = (v: string | undefined, min: number) => {
    if (v && v.length >= min) out.add(v);
  };
  for (const v of src.known ?? []) add(v, MIN_LENGTH);
  for (const url of src.urls ?? []) {
    const password = urlPassword(url);
    if (password) {
      add(password.raw, MIN_LENGTH);
      add(password.decoded, MIN_LENGTH);
    }
  }
  for (const v of src.guessed ?? []) add(v, MIN_GUESSED_LENGTH);
  return [...out].sort((a, b) => b.length - a.length);
}

function urlPassword(url: string | undefined): { raw: string; decoded: string } | undefined {
  if (!url) return undefined;
  try {
    const raw = new URL(url).password;
    return raw ? { raw, decoded: decodeURIComponent(raw) } : undefined;
  } catch {
    return undefined;
  }
}

export function redactText(s: string, secrets: readonly string[]): string {
  let out = s;
  for (const secret of secrets) if (out.includes(secret)) out = out.split(secret).join(REDACTED);
  return out;
}

/** A copy of `value` (plain data: a report) with every string redacted, keys included. */
export function redactDeep<T>(value: T, secrets: readonly string[]): T {
  if (secrets.length === 0) return value;
  const walk = (v: unknown): unknown => {
    if (typeof v === 'string') return redactText(v, secrets);
    if (Array.isArray(v)) return v.map(walk);
    if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [redactText(k, secrets), walk(x)]));
    return v;
  };
  return walk(value) as T;
}
