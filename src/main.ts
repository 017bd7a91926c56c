// The GitHub Action: inputs -> base -> gate -> JSON report, outputs, job summary, annotations,
// sticky comment -> one core.setFailed. The logic lives in plain modules (src/action, src/report,
// src/engine); this file is the sequence of I/O around them.
import * as core from '@actions/core';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, relative, resolve, sep } from 'node:path';
import { tmpdir } from 'node:os';
import { createHash } from 'node:crypto';
import pkg from '../package.json' with { type: 'json' };
import { readInputs, type ActionInputs } from './action/inputs.js';
import { chooseBase, git, resolveBase } from './action/base.js';
import { markerFor } from './action/marker.js';
import { annotationsOf, crashReport, outcomeOf } from './action/outcome.js';
import { runGate } from './engine/gate.js';
import type { GateOptions, ProgressSink } from './engine/options.js';
import { toGateOptions } from './options/parse.js';
import { renderMarkdown } from './report/markdown.js';
import { redactDeep, redactText, secretList } from './report/redact.js';
import { secretLookingValues } from './alembic/worker-env.js';
import { escapeLog, escapeLogLines } from './report/escape.js';
import type { Report } from './report/types.js';
import { GitHubApiError, IssueComments, upsertStickyComment } from './github/comment.js';
import { linkSha, pullRequestNumber, readRunContext, type RunContext } from './github/event.js';

/** GitHub rejects comments over 65,536 characters; keep a margin. */
export const COMMENT_MAX_LENGTH = 65_000;
/** The job summary may hold 1 MiB per step; stay well under it in characters. */
export const SUMMARY_MAX_LENGTH = 900_000;

export interface RunDeps {
  runGate: (options: GateOptions, progress?: ProgressSink) => Promise<Report>;
}

export async function run(deps: Partial<RunDeps> = {}): Promise<void> {
  const gate = deps.runGate ?? runGate;
  const started = Date.now();
  let inputs: ActionInputs;
  let ctx: RunContext;
  try {
    inputs = readInputs();
    if (inputs.githubToken) core.setSecret(inputs.githubToken);
    maskDatabasePassword(inputs.databaseUrl);
    ctx = readRunContext();
  } catch (e) {
    setEarlyFailureOutputs();
    core.setFailed(errorMessage(e));
    return;
  }

  // What the PR's code printed may hold secrets it found (in /proc, in files): never publish them.
  const secrets = secretList({ known: [inputs.githubToken], urls: [inputs.databaseUrl], guessed: secretLookingValues(process.env) });
  const workingDirectory = resolve(inputs.workingDirectory);
  let report: Report;
  try {
    // Base selection.
    core.startGroup('alembic-gate: base');
    let baseSha: string;
    let repoRoot: string;
    try {
      const top = await git(['rev-parse', '--show-toplevel'], workingDirectory);
      if (!top.ok) {
        throw new Error(
          `working-directory '${inputs.workingDirectory}' is not inside a git clone (${top.stderr || 'git rev-parse failed'}). Run actions/checkout before alembic-gate.`,
        );
      }
      repoRoot = top.stdout;
      const decision = chooseBase(ctx.eventName, ctx.payload, inputs);
      if (decision.kind === 'refuse') throw new Error(decision.message);
      core.info(`Base: ${decision.kind === 'commit' ? decision.sha : decision.ref} (${decision.why})`);
      baseSha = await resolveBase(repoRoot, decision);
      core.info(`Base commit: ${baseSha}`);
    } finally {
      core.endGroup();
    }

    // The gate, one log group per phase.
    const options = toGateOptions(inputs, { repoRoot, workingDirectory, base: baseSha });
    let phase: string | undefined;
    const progress: ProgressSink = (event) => {
      if (event.phase !== phase) {
        if (phase) core.endGroup();
        phase = event.phase;
        core.startGroup(`alembic-gate: ${phase}`);
      }
      const count = event.index !== undefined && event.total !== undefined ? ` [${event.index}/${event.total}]` : '';
      core.info(`${escapeLog(redactText(event.message, secrets))}${count}`);
    };
    try {
      report = await gate(options, progress);
    } finally {
      if (phase) core.endGroup();
    }
  } catch (e) {
    report = crashReport({
      message: errorMessage(e),
      workingDirectory: inputs.workingDirectory,
      alembicConfig: inputs.alembicConfig,
      roundtrip: inputs.roundtrip,
      version: pkg.version,
      totalMs: Date.now() - started,
      headSha: ctx.sha,
    });
  }

  await publish(redactDeep(report, secrets), inputs, ctx, workingDirectory);
}

/** Everything after the gate: JSON report, outputs, summary, annotations, comment, verdict. */
async function publish(report: Report, inputs: ActionInputs, ctx: RunContext, workingDirectory: string): Promise<void> {
  const outcome = outcomeOf(report, inputs.failOn);
  const marker = markerFor(relativeToWorkspace(workingDirectory, ctx), inputs.alembicConfig);

  core.startGroup('alembic-gate: report');
  try {
    const key = createHash('sha256').update(marker).digest('hex').slice(0, 12);
    const dir = join(ctx.runnerTemp ?? tmpdir(), 'alembic-gate', key);
    mkdirSync(dir, { recursive: true });
    const reportPath = join(dir, 'report.json');
    writeFileSync(reportPath, `${JSON.stringify(report, null, 2)}\n`);
    core.info(`JSON report: ${reportPath}`);
    core.setOutput('status', report.status);
    core.setOutput('report', reportPath);
    core.setOutput('drift', String(report.drift.operations.length > 0));

    const repoUrl = ctx.repository ? `${ctx.serverUrl.replace(/\/+$/, '')}/${ctx.repository}` : undefined;
    const runUrl = repoUrl && ctx.runId ? `${repoUrl}/actions/runs/${ctx.runId}${ctx.runAttempt ? `/attempts/${ctx.runAttempt}` : ''}` : undefined;
    const summaryHint =
      `The full report is in the ${runUrl ? `[job summary](${runUrl})` : 'job summary'} and in the JSON report ` +
      '(the `report` output; keep it with actions/upload-artifact).';
    const renderOpts = { repoUrl, headSha: linkSha(ctx) ?? report.head.sha, summaryHint };

    try {
      await core.summary.addRaw(renderMarkdown(report, { ...renderOpts, maxLength: SUMMARY_MAX_LENGTH }), true).write();
    } catch (e) {
      core.warning(`alembic-gate could not write the job summary: ${errorMessage(e)}`);
    }

    for (const a of annotationsOf(report)) {
      // core encodes newlines in the message; control characters are shown as text.
      const props = { title: escapeLog(a.title), file: escapeLog(a.file), startLine: a.startLine };
      const message = escapeLogLines(a.message);
      if (a.level === 'error') core.error(message, props);
      else if (a.level === 'warning') core.warning(message, props);
      else core.notice(message, props);
    }
    core.endGroup();

    core.startGroup('alembic-gate: comment');
    await comment(report, inputs, ctx, marker, outcome.failing, renderOpts);
  } finally {
    core.endGroup();
  }

  if (outcome.failing) core.setFailed(escapeLogLines(outcome.message ?? 'alembic-gate failed'));
  else core.info('alembic-gate: migrations pass');
}

async function comment(
  report: Report,
  inputs: ActionInputs,
  ctx: RunContext,
  marker: string,
  failing: boolean,
  renderOpts: { repoUrl?: string; headSha?: string; summaryHint: string },
): Promise<void> {
  if (inputs.comment === 'never') return core.info("Not commenting (comment: 'never').");
  const issue = pullRequestNumber(ctx);
  if (issue === undefined) return core.info(`Not commenting: the '${ctx.eventName}' event has no pull request.`);
  if (!ctx.repository) return core.warning('Not commenting: GITHUB_REPOSITORY is not set.');
  if (!inputs.githubToken) {
    return core.warning("Not commenting: the 'github-token' input is empty. Pass `github-token: ${{ github.token }}` or set comment: never.");
  }
  const body = renderMarkdown(report, { ...renderOpts, marker, maxLength: COMMENT_MAX_LENGTH });
  const client = new IssueComments({ apiUrl: ctx.apiUrl, token: inputs.githubToken, repository: ctx.repository });
  try {
    const result = await upsertStickyComment({ client, issue, marker, body, mode: inputs.comment, failing });
    if (result.action === 'skip') core.info(`Not commenting: the gate passed and there is no earlier comment (comment: '${inputs.comment}').`);
    else core.info(`Comment ${result.action === 'create' ? 'created' : 'updated'}: ${result.comment?.html_url ?? `#${result.comment?.id}`}`);
  } catch (e) {
    if (e instanceof GitHubApiError && (e.status === 403 || e.status === 404)) {
      core.warning(
        `alembic-gate could not comment on pull request #${issue} (HTTP ${e.status}): the token cannot write to this ` +
          'pull request. This is expected for pull requests from forks and from Dependabot, whose tokens are read-only; ' +
          'otherwise give the job `permissions: pull-requests: write`. The job summary and the annotations carry the full report, ' +
          'and the verdict still decides the job.',
      );
    } else {
      core.warning(`alembic-gate could not comment on pull request #${issue}: ${errorMessage(e)}. The job summary carries the full report.`);
    }
  }
}

function relativeToWorkspace(dir: string, ctx: RunContext): string {
  const root = ctx.workspace ? resolve(ctx.workspace) : process.cwd();
  const rel = relative(root, dir);
  return rel === '' ? '.' : rel.split(sep).join('/');
}

function maskDatabasePassword(url: string | undefined): void {
  if (!url) return;
  try {
    const password = decodeURIComponent(new URL(url).password);
    if (password) core.setSecret(password);
  } catch {
    // not parseable as a URL: the engine reports it
  }
}

function setEarlyFailureOutputs(): void {
  core.setOutput('status', 'error');
  core.setOutput('report', '');
  core.setOutput('drift', 'false');
}

function errorMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
