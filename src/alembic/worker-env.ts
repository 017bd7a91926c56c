// The environment the Python worker (and so the pull request's env.py, migrations and models)
// runs with. The gate's own process holds the runner's secrets: the comment token (INPUT_*), the
// job token, the runtime and OIDC request tokens, and the files through which a step sets
// outputs, environment and the summary. None of that is handed to the PR's code. What a Python
// project needs to start (PATH, HOME, locale, PYTHON*, virtualenv / poetry / uv settings) and the
// job's other variables pass, except names that look like secrets; `--pass-env NAME` (action
// input `pass-env`) passes any variable by name.

/** Runner variables never passed on their own: credentials, and files that steer the job. */
const RUNNER_PREFIXES = ['INPUT_', 'STATE_', 'ACTIONS_'];
const RUNNER_NAMES = new Set(['GITHUB_TOKEN', 'GH_TOKEN', 'GITHUB_OUTPUT', 'GITHUB_ENV', 'GITHUB_PATH', 'GITHUB_STEP_SUMMARY', 'GITHUB_STATE']);

/**
 * Words that mark a secret when a `_`-separated part of the name ends with one
 * (GITHUB_TOKEN, AWS_SECRET_ACCESS_KEY, PGPASSWORD, OPENAI_APIKEY, SSH_AUTH_SOCK), but not
 * PYTHON_KEYRING_BACKEND or TOKENIZERS_PARALLELISM.
 */
const SECRET_WORDS = /(TOKEN|SECRET|PASSWORD|PASSWD|PASSPHRASE|CREDENTIAL|CREDENTIALS|KEY|KEYS|AUTH|PRIVATE|COOKIE)$/;

/** A variable name that looks as though it holds a secret. */
export function looksSecret(name: string): boolean {
  return name
    .toUpperCase()
    .split(/[^A-Z0-9]+/)
    .some((part) => SECRET_WORDS.test(part));
}

/** A variable of the runner's that the PR's code must not see. */
export function isRunnerVariable(name: string): boolean {
  const upper = name.toUpperCase();
  return RUNNER_NAMES.has(upper) || RUNNER_PREFIXES.some((p) => upper.startsWith(p));
}

/** Whether `name` reaches the worker: listed in passEnv, else not the runner's and not secret-looking. */
export function passesToWorker(name: string, passEnv: readonly string[] = []): boolean {
  if (passEnv.includes(name)) return true;
  return !isRunnerVariable(name) && !looksSecret(name);
}

/** The worker's environment: `parent` filtered (see passesToWorker), then `extra` on top. */
export function workerEnvironment(parent: NodeJS.ProcessEnv, passEnv: readonly string[] = [], extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(parent)) {
    if (value !== undefined && passesToWorker(name, passEnv)) env[name] = value;
  }
  return { ...env, ...extra };
}

/**
 * Values of the variables whose names look like secrets, passed or not: to redact wherever they
 * appear (the PR's code can still read the gate's own environment from /proc).
 */
export function secretLookingValues(parent: NodeJS.ProcessEnv): string[] {
  return Object.entries(parent)
    .filter(([name, value]) => value && looksSecret(name))
    .map(([, value]) => value!);
}

/** `--pass-env` / `pass-env` values must be variable names; returns the bad one, if any. */
export function badVariableName(names: readonly string[]): string | undefined {
  return names.find((n) => !/^[A-Za-z_][A-Za-z0-9_]*$/.test(n));
}
