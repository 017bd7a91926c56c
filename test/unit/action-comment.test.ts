import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FakeGitHub } from '../helpers/fake-github.js';
import { GitHubApiError, IssueComments, nextLink, upsertStickyComment } from '../../src/github/comment.js';
import { carriesMarker, markerFor } from '../../src/action/marker.js';
import { annotationsOf, commentAction, outcomeOf } from '../../src/action/outcome.js';
import { errorReport, failingReport, passingReport } from '../helpers/sample-reports.js';

const marker = markerFor('.', 'alembic.ini');

describe('markerFor', () => {
  it('is stable per configuration and differs between configurations', () => {
    expect(marker).toMatch(/^<!-- alembic-gate:[0-9a-f]{16} -->$/);
    expect(markerFor('./', 'alembic.ini')).toBe(marker);
    expect(markerFor('services/billing', 'alembic.ini')).not.toBe(marker);
    expect(markerFor('.', 'db/alembic.ini')).not.toBe(marker);
  });
  it('must open the comment', () => {
    expect(carriesMarker(`${marker}\n## x`, marker)).toBe(true);
    expect(carriesMarker(`> ${marker}\nquoted`, marker)).toBe(false);
    expect(carriesMarker(null, marker)).toBe(false);
  });
});

describe('commentAction', () => {
  it.each([
    ['always', false, false, 'create'],
    ['always', true, true, 'update'],
    ['on-failure', true, false, 'create'],
    ['on-failure', false, false, 'skip'],
    ['on-failure', false, true, 'update'],
    ['never', true, true, 'skip'],
  ] as const)('%s failing=%s existing=%s -> %s', (mode, failing, existing, expected) => {
    expect(commentAction(mode, failing, existing)).toBe(expected);
  });
});

describe('outcomeOf / annotationsOf', () => {
  it('passes, fails on fail-on checks only, and always fails on error', () => {
    expect(outcomeOf(passingReport(), ['roundtrip']).failing).toBe(false);
    const failing = outcomeOf(failingReport(), ['roundtrip']);
    expect(failing.failing).toBe(true);
    expect(failing.message).toMatch(/^alembic-gate: 1 check failed\. roundtrip \(1 of 3 new revisions does not round-trip\): make downgrade\(\)/);
    expect(outcomeOf(failingReport(), ['upgrade']).failing).toBe(false);
    const err = outcomeOf(errorReport(), []);
    expect(err.failing).toBe(true);
    expect(err.message).toMatch(/could not run: The head tree's env.py could not be imported/);
  });
  it('annotates findings that name a file', () => {
    const a = annotationsOf(failingReport());
    expect(a.map((x) => [x.level, x.file, x.startLine])).toEqual([
      ['error', 'migrations/versions/77aa88bb99cc_add_invoices.py', 9],
      ['error', 'migrations/versions/a1b2c3d4e5f6_create_users.py', 21],
      ['error', 'migrations/versions/0f9e8d7c6b5a_add_users_nickname.py', 24],
    ]);
  });
});

describe('nextLink', () => {
  it('finds rel="next" among others', () => {
    expect(nextLink('<http://x/a?page=1>; rel="prev", <http://x/a?page=3>; rel="next", <http://x/a?page=9>; rel="last"')?.href).toBe(
      'http://x/a?page=3',
    );
    expect(nextLink('<http://x/a?page=1>; rel="first"')).toBeUndefined();
    expect(nextLink(null)).toBeUndefined();
  });
});

describe('sticky comment against the fake GitHub', () => {
  let gh: FakeGitHub;
  let client: IssueComments;
  beforeEach(async () => {
    gh = new FakeGitHub();
    await gh.start();
    client = new IssueComments({ apiUrl: gh.url, token: gh.token, repository: 'acme/shop' });
    for (let i = 0; i < 150; i++) gh.seed(7, `comment ${i} by a human`, `user${i % 5}`);
  });
  afterEach(() => gh.stop());

  it('lists every page', async () => {
    const all = [];
    for await (const c of client.list(7)) all.push(c);
    expect(all).toHaveLength(150);
    expect(gh.requests.filter((r) => r.method === 'GET').map((r) => r.query.page ?? '1')).toEqual(['1', '2']);
    expect(gh.requests.every((r) => r.authorization === `Bearer ${gh.token}`)).toBe(true);
  });

  it('creates once, then updates the same comment found on page 2', async () => {
    const body = (s: string): string => `${marker}\n${s}`;
    const first = await upsertStickyComment({ client, issue: 7, marker, body: body('fail'), mode: 'on-failure', failing: true });
    expect(first.action).toBe('create');
    const second = await upsertStickyComment({ client, issue: 7, marker, body: body('fail again'), mode: 'on-failure', failing: true });
    expect(second.action).toBe('update');
    const third = await upsertStickyComment({ client, issue: 7, marker, body: body('pass'), mode: 'on-failure', failing: false });
    expect(third.action).toBe('update');
    const ours = gh.commentsOn(7).filter((c) => c.body.startsWith(marker));
    expect(ours).toHaveLength(1);
    expect(ours[0]!.body).toBe(body('pass'));
    expect(gh.writes().map((w) => w.method)).toEqual(['POST', 'PATCH', 'PATCH']);
  });

  it('leaves comments without our marker alone, even ones that quote it', async () => {
    gh.seed(7, `> ${marker}\n> quoted by a human`, 'human');
    const other = markerFor('services/billing', 'alembic.ini');
    gh.seed(7, `${other}\nanother configuration`, 'github-actions[bot]', 'Bot');
    const r = await upsertStickyComment({ client, issue: 7, marker, body: `${marker}\nx`, mode: 'always', failing: false });
    expect(r.action).toBe('create');
    expect(gh.commentsOn(7).filter((c) => c.body.includes('quoted by a human') || c.body.includes('another configuration')).map((c) => c.body)).toEqual([
      `> ${marker}\n> quoted by a human`,
      `${other}\nanother configuration`,
    ]);
  });

  it("never edits a comment someone else wrote with our marker pasted at the top (GITHUB_TOKEN: only a bot's)", async () => {
    const forged = gh.seed(7, `${marker}\n## alembic-gate: migrations pass`, 'mallory', 'User');
    const r = await upsertStickyComment({ client, issue: 7, marker, body: `${marker}\nreal verdict`, mode: 'always', failing: true });
    expect(r.action).toBe('create');
    expect(gh.comments.find((c) => c.id === forged.id)!.body).toBe(`${marker}\n## alembic-gate: migrations pass`);
    expect(gh.writes().map((w) => [w.method, w.path])).toEqual([['POST', '/repos/acme/shop/issues/7/comments']]);
    expect(r.comment?.user?.login).toBe('github-actions[bot]');
    // the next run finds the bot's comment and edits it
    const again = await upsertStickyComment({ client, issue: 7, marker, body: `${marker}\nsecond`, mode: 'always', failing: true });
    expect(again.action).toBe('update');
    expect(again.comment?.id).toBe(r.comment?.id);
  });

  it("with a user's token, edits only that user's comment", async () => {
    const pat = new FakeGitHub({ tokenUser: 'release-bot-user' });
    await pat.start();
    try {
      const patClient = new IssueComments({ apiUrl: pat.url, token: pat.token, repository: 'acme/shop' });
      pat.seed(7, `${marker}\nby the job token`, 'github-actions[bot]', 'Bot');
      pat.seed(7, `${marker}\nforged`, 'mallory', 'User');
      const own = pat.seed(7, `${marker}\nearlier run`, 'release-bot-user', 'User');
      const r = await upsertStickyComment({ client: patClient, issue: 7, marker, body: `${marker}\nnew`, mode: 'always', failing: false });
      expect(r.action).toBe('update');
      expect(r.comment?.id).toBe(own.id);
      expect(pat.commentsOn(7).map((c) => c.body)).toEqual([`${marker}\nby the job token`, `${marker}\nforged`, `${marker}\nnew`]);
    } finally {
      await pat.stop();
    }
  });

  it('does not create a comment for a pass in on-failure mode', async () => {
    const r = await upsertStickyComment({ client, issue: 7, marker, body: `${marker}\nok`, mode: 'on-failure', failing: false });
    expect(r.action).toBe('skip');
    expect(gh.writes()).toHaveLength(0);
  });

  it('reports 403 from a read-only token as a GitHubApiError', async () => {
    gh.readOnly = true;
    const p = upsertStickyComment({ client, issue: 7, marker, body: `${marker}\nx`, mode: 'always', failing: true });
    await expect(p).rejects.toBeInstanceOf(GitHubApiError);
    await expect(p).rejects.toMatchObject({ status: 403 });
  });

  it('gets 404 for an unknown comment id and 401 for a wrong token', async () => {
    await expect(client.update(1, 'x')).rejects.toMatchObject({ status: 404 });
    const bad = new IssueComments({ apiUrl: gh.url, token: 'nope', repository: 'acme/shop' });
    await expect(bad.create(7, 'x')).rejects.toMatchObject({ status: 401 });
  });
});
