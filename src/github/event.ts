// The workflow run's context, read from the runner's environment variables and event file.
import { readFileSync } from 'node:fs';

export interface RunContext {
  eventName: string;
  // The webhook payload; its shape depends on the event.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  payload: Record<string, any>;
  /** owner/repo */
  repository?: string;
  apiUrl: string;
  serverUrl: string;
  sha?: string;
  runId?: string;
  runAttempt?: string;
  workspace?: string;
  runnerTemp?: string;
}

export function readRunContext(env: NodeJS.ProcessEnv = process.env): RunContext {
  let payload = {};
  const path = env.GITHUB_EVENT_PATH;
  if (path) {
    try {
      payload = JSON.parse(readFileSync(path, 'utf8'));
    } catch (e) {
      throw new Error(`could not read the event payload GITHUB_EVENT_PATH=${path}: ${(e as Error).message}`);
    }
  }
  return {
    eventName: env.GITHUB_EVENT_NAME ?? '',
    payload,
    repository: env.GITHUB_REPOSITORY || undefined,
    apiUrl: env.GITHUB_API_URL || 'https://api.github.com',
    serverUrl: env.GITHUB_SERVER_URL || 'https://github.com',
    sha: env.GITHUB_SHA || undefined,
    runId: env.GITHUB_RUN_ID || undefined,
    runAttempt: env.GITHUB_RUN_ATTEMPT || undefined,
    workspace: env.GITHUB_WORKSPACE || undefined,
    runnerTemp: env.RUNNER_TEMP || undefined,
  };
}

/** The pull request number for events that have one. */
export function pullRequestNumber(ctx: RunContext): number | undefined {
  const n = ctx.payload?.pull_request?.number ?? (ctx.payload?.issue?.pull_request ? ctx.payload.issue.number : undefined);
  return typeof n === 'number' && Number.isInteger(n) && n > 0 ? n : undefined;
}

/** The commit file links should point at: the pull request's head, else the checked-out commit. */
export function linkSha(ctx: RunContext): string | undefined {
  const head = ctx.payload?.pull_request?.head?.sha;
  return typeof head === 'string' ? head : ctx.sha;
}
