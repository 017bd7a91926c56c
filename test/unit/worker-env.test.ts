import { describe, expect, it } from 'vitest';
import { looksSecret, passesToWorker, secretLookingValues, workerEnvironment } from '../../src/alembic/worker-env.js';

const RUNNER: NodeJS.ProcessEnv = {
  PATH: '/usr/bin',
  HOME: '/home/runner',
  LANG: 'C.UTF-8',
  PYTHONPATH: '/opt/sid',
  VIRTUAL_ENV: '/work/.venv',
  POETRY_VIRTUALENVS_IN_PROJECT: 'true',
  UV_PROJECT_ENVIRONMENT: '.venv',
  PYTHON_KEYRING_BACKEND: 'keyring.backends.null.Keyring',
  APP_SETTINGS: 'testing',
  GITHUB_SHA: 'abc',
  RUNNER_TEMP: '/tmp/r',
  'INPUT_GITHUB-TOKEN': 'ghs_input',
  INPUT_PYTHON: 'python3',
  GITHUB_TOKEN: 'ghs_env',
  ACTIONS_RUNTIME_TOKEN: 'rt',
  ACTIONS_ID_TOKEN_REQUEST_TOKEN: 'oidc',
  ACTIONS_ID_TOKEN_REQUEST_URL: 'https://oidc',
  ACTIONS_CACHE_URL: 'https://cache',
  GITHUB_OUTPUT: '/tmp/out',
  GITHUB_ENV: '/tmp/env',
  GITHUB_PATH: '/tmp/path',
  GITHUB_STEP_SUMMARY: '/tmp/sum',
  GITHUB_STATE: '/tmp/state',
  STATE_x: '1',
  AWS_SECRET_ACCESS_KEY: 'aws',
  PGPASSWORD: 'pg',
  SENTRY_AUTH_TOKEN: 'sentry',
  POETRY_PYPI_TOKEN_PYPI: 'pypi',
};

describe('the worker environment', () => {
  it('passes what Python needs and the job variables, withholds the runner secrets and steering files', () => {
    const env = workerEnvironment(RUNNER);
    expect(Object.keys(env).sort()).toEqual(
      ['APP_SETTINGS', 'GITHUB_SHA', 'HOME', 'LANG', 'PATH', 'POETRY_VIRTUALENVS_IN_PROJECT', 'PYTHONPATH', 'PYTHON_KEYRING_BACKEND', 'RUNNER_TEMP', 'UV_PROJECT_ENVIRONMENT', 'VIRTUAL_ENV'].sort(),
    );
  });

  it('passes named variables (--pass-env) and keeps the extra variables on top', () => {
    const env = workerEnvironment(RUNNER, ['SENTRY_AUTH_TOKEN'], { PYTHONUNBUFFERED: '1', PATH: '/x' });
    expect(env.SENTRY_AUTH_TOKEN).toBe('sentry');
    expect(env.PYTHONUNBUFFERED).toBe('1');
    expect(env.PATH).toBe('/x');
    expect(env.GITHUB_TOKEN).toBeUndefined();
  });

  it.each([
    ['GITHUB_TOKEN', true],
    ['OPENAI_API_KEY', true],
    ['DJANGO_SECRET_KEY', true],
    ['PGPASSWORD', true],
    ['SSH_AUTH_SOCK', true],
    ['GOOGLE_APPLICATION_CREDENTIALS', true],
    ['PYTHON_KEYRING_BACKEND', false],
    ['TOKENIZERS_PARALLELISM', false],
    ['DATABASE_URL', false],
  ])('%s looks secret: %s', (name, expected) => {
    expect(looksSecret(name)).toBe(expected);
  });

  it('runner variables pass only when named', () => {
    expect(passesToWorker('INPUT_GITHUB-TOKEN')).toBe(false);
    expect(passesToWorker('GITHUB_OUTPUT')).toBe(false);
    expect(passesToWorker('GITHUB_OUTPUT', ['GITHUB_OUTPUT'])).toBe(true);
  });

  it('collects the values of secret-looking variables for redaction', () => {
    expect(secretLookingValues(RUNNER).sort()).toEqual(['aws', 'ghs_env', 'ghs_input', 'https://oidc', 'oidc', 'pg', 'pypi', 'rt', 'sentry'].sort());
  });
});
