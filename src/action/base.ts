// Which commit the pull request (or push) is compared with, decided from the workflow event.
// `chooseBase` is pure: event name + payload + inputs in, a decision out.
// `resolveBase` makes sure the commit is in the local clone (actions/checkout fetches one commit).
import { runGit } from '../git/git.js';

export type BaseDecision =
  | { kind: 'commit'; sha: string; why: string }
  | { kind: 'ref'; ref: string; why: string }
  | { kind: 'refuse'; message: string };

export interface BaseInputs {
  base?: string;
  allowPullRequestTarget: boolean;
}

/* eslint-disable @typescript-eslint/no-explicit-any */
type Payload = Record<string, any>;

const ZERO_SHA = /^0+$/;
const SHA = /^[0-9a-f]{40}$|^[0-9a-f]{64}$/i;

export const PULL_REQUEST_TARGET_REFUSAL =
  'alembic-gate refuses to run on pull_request_target: that event runs with a write token and ' +
  "secrets while alembic-gate executes the pull request's own Python code (env.py, migrations, " +
  'models), so a pull request from a fork could take over the token. Run it on `pull_request` ' +
  "instead. If you understand the risk (e.g. only trusted authors, no secrets), set 'allow-pull-request-target: true' " +
  'and check out the pull request head yourself.';

export function chooseBase(eventName: string, payload: Payload, inputs: BaseInputs): BaseDecision {
  if (eventName === 'pull_request_target' && !inputs.allowPullRequestTarget) {
    return { kind: 'refuse', message: PULL_REQUEST_TARGET_REFUSAL };
  }
  if (inputs.base) {
    return SHA.test(inputs.base)
      ? { kind: 'commit', sha: inputs.base.toLowerCase(), why: "the 'base' input" }
      : { kind: 'ref', ref: inputs.base, why: "the 'base' input" };
  }
  const defaultBranch = (): BaseDecision => {
    const branch = payload?.repository?.default_branch;
    return typeof branch === 'string' && branch
      ? { kind: 'ref', ref: branch, why: 'the default branch' }
      : { kind: 'ref', ref: 'main', why: 'main (the event names no default branch)' };
  };
  switch (eventName) {
    case 'pull_request':
    case 'pull_request_target': {
      const sha = payload?.pull_request?.base?.sha;
      if (typeof sha === 'string' && SHA.test(sha)) {
        const ref = payload.pull_request.base.ref;
        return { kind: 'commit', sha, why: `the pull request's base${typeof ref === 'string' ? ` (${ref})` : ''}` };
      }
      return defaultBranch();
    }
    case 'merge_group': {
      const sha = payload?.merge_group?.base_sha;
      if (typeof sha === 'string' && SHA.test(sha)) return { kind: 'commit', sha, why: "the merge group's base" };
      return defaultBranch();
    }
    case 'push': {
      const before = payload?.before;
      if (typeof before === 'string' && SHA.test(before) && !ZERO_SHA.test(before)) {
        return { kind: 'commit', sha: before, why: 'the commit before the push' };
      }
      return defaultBranch(); // a new branch: compare with the default branch
    }
    default:
      // workflow_dispatch, schedule, ...: the 'base' input (handled above) or the default branch.
      return defaultBranch();
  }
}

export class BaseError extends Error {}

export type Git = (args: string[], cwd: string) => Promise<{ ok: boolean; stdout: string; stderr: string }>;

/** git through src/git/git.ts's runner, outputs trimmed. */
export const git: Git = async (args, cwd) => {
  const r = await runGit(args, cwd);
  return { ok: r.code === 0, stdout: r.stdout.trim(), stderr: r.stderr.trim() };
};

const FETCH_DEPTH_HINT =
  'Give actions/checkout `fetch-depth: 0` (or fetch the base yourself) so that alembic-gate can read the base revisions.';

/** Returns the full sha of the base commit, fetching it when the clone lacks it. */
export async function resolveBase(repoRoot: string, decision: Exclude<BaseDecision, { kind: 'refuse' }>, run: Git = git): Promise<string> {
  if (decision.kind === 'commit') {
    const present = async () => (await run(['cat-file', '-e', `${decision.sha}^{commit}`], repoRoot)).ok;
    if (await present()) return decision.sha;
    const fetched = await run(['fetch', '--no-tags', '--depth=1', 'origin', decision.sha], repoRoot);
    if (fetched.ok && (await present())) return decision.sha;
    throw new BaseError(
      `The base commit ${decision.sha} (${decision.why}) is not in the clone and could not be fetched` +
        `${fetched.stderr ? `: ${fetched.stderr.split('\n').pop()}` : ''}. ${FETCH_DEPTH_HINT}`,
    );
  }
  for (const candidate of [`origin/${decision.ref}`, decision.ref]) {
    const r = await run(['rev-parse', '--verify', '--quiet', `${candidate}^{commit}`], repoRoot);
    if (r.ok && r.stdout) return r.stdout;
  }
  const fetched = await run(['fetch', '--no-tags', '--depth=1', 'origin', decision.ref], repoRoot);
  if (fetched.ok) {
    const r = await run(['rev-parse', '--verify', '--quiet', 'FETCH_HEAD^{commit}'], repoRoot);
    if (r.ok && r.stdout) return r.stdout;
  }
  throw new BaseError(
    `The base '${decision.ref}' (${decision.why}) is not in the clone and could not be fetched` +
      `${fetched.stderr ? `: ${fetched.stderr.split('\n').pop()}` : ''}. ${FETCH_DEPTH_HINT}`,
  );
}
