// The sticky pull-request comment, kept through the REST issue-comments API:
// list (all pages), create (POST), update (PATCH). Plain fetch, so GITHUB_API_URL may point at
// GitHub Enterprise or at a local test server. Only comments that carry our marker are edited.
import { carriesMarker } from '../action/marker.js';
import { commentAction, type CommentAction } from '../action/outcome.js';
import type { CommentMode } from '../action/inputs.js';

export interface IssueComment {
  id: number;
  body?: string | null;
  html_url?: string;
  user?: { login?: string; type?: string } | null;
}

export class GitHubApiError extends Error {
  constructor(
    readonly status: number,
    readonly method: string,
    readonly path: string,
    responseText: string,
  ) {
    super(`${method} ${path} -> HTTP ${status}${responseText ? `: ${responseText.slice(0, 300)}` : ''}`);
    this.name = 'GitHubApiError';
  }
}

export interface IssueCommentsOptions {
  /** GITHUB_API_URL, e.g. https://api.github.com */
  apiUrl: string;
  token: string;
  /** owner/repo */
  repository: string;
  fetch?: typeof fetch;
}

export class IssueComments {
  private readonly api: URL;
  private readonly doFetch: typeof fetch;

  constructor(private readonly opts: IssueCommentsOptions) {
    if (!/^[^/\s]+\/[^/\s]+$/.test(opts.repository)) throw new Error(`not an owner/repo: '${opts.repository}'`);
    this.api = new URL(opts.apiUrl.endsWith('/') ? opts.apiUrl : `${opts.apiUrl}/`);
    this.doFetch = opts.fetch ?? fetch;
  }

  private url(path: string): URL {
    return new URL(path.replace(/^\//, ''), this.api);
  }

  private async request(method: string, url: URL, body?: unknown): Promise<Response> {
    // The token only ever goes to the API origin (a Link header could name another host).
    if (url.origin !== this.api.origin) throw new Error(`refusing to send the token to ${url.origin}`);
    const res = await this.doFetch(url, {
      method,
      headers: {
        Accept: 'application/vnd.github+json',
        Authorization: `Bearer ${this.opts.token}`,
        'X-GitHub-Api-Version': '2022-11-28',
        'User-Agent': 'alembic-gate',
        ...(body === undefined ? {} : { 'Content-Type': 'application/json' }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (!res.ok) throw new GitHubApiError(res.status, method, url.pathname, await res.text().catch(() => ''));
    return res;
  }

  /** Every comment of an issue or pull request, following the Link header's rel="next" across pages. */
  async *list(issue: number): AsyncGenerator<IssueComment> {
    const [owner, repo] = this.opts.repository.split('/') as [string, string];
    let next: URL | undefined = this.url(`repos/${owner}/${repo}/issues/${issue}/comments?per_page=100`);
    for (let pages = 0; next && pages < 1000; pages++) {
      const res = await this.request('GET', next);
      const items = (await res.json()) as IssueComment[];
      for (const c of items) yield c;
      next = nextLink(res.headers.get('link'));
    }
  }

  /**
   * Whose comments this token writes. A user's token (a PAT) answers GET /user with its login;
   * an installation token (the job's GITHUB_TOKEN, a GitHub App's) answers 403, and its comments
   * are posted by a bot account (github-actions[bot] for GITHUB_TOKEN, <app>[bot] for an app).
   */
  async author(): Promise<CommentAuthor> {
    try {
      const res = await this.request('GET', this.url('user'));
      const user = (await res.json()) as { login?: string };
      if (typeof user.login === 'string' && user.login) return { login: user.login };
    } catch (err) {
      if (!(err instanceof GitHubApiError) || (err.status !== 403 && err.status !== 401)) throw err;
    }
    return { bot: true };
  }

  async create(issue: number, body: string): Promise<IssueComment> {
    const [owner, repo] = this.opts.repository.split('/') as [string, string];
    const res = await this.request('POST', this.url(`repos/${owner}/${repo}/issues/${issue}/comments`), { body });
    return (await res.json()) as IssueComment;
  }

  async update(id: number, body: string): Promise<IssueComment> {
    const [owner, repo] = this.opts.repository.split('/') as [string, string];
    const res = await this.request('PATCH', this.url(`repos/${owner}/${repo}/issues/comments/${id}`), { body });
    return (await res.json()) as IssueComment;
  }
}

/** The rel="next" URL of a Link header, if any. */
export function nextLink(header: string | null): URL | undefined {
  if (!header) return undefined;
  for (const part of header.split(',')) {
    const m = /<([^>]+)>\s*;(.*)/.exec(part.trim());
    if (m && /\brel="?next"?/.test(m[2]!)) return new URL(m[1]!);
  }
  return undefined;
}

/** The token's identity: a login, or "some bot account" for an installation token. */
export type CommentAuthor = { login: string; bot?: undefined } | { bot: true; login?: undefined };

/** Whether `c` was written by `author` (anyone can paste our marker into a comment of their own). */
export function writtenBy(c: IssueComment, author: CommentAuthor): boolean {
  if (author.login !== undefined) return c.user?.login === author.login;
  return c.user?.type === 'Bot';
}

/**
 * Our earlier comment for this configuration: the first one whose body opens with the marker
 * and that the token's own account wrote. Never a comment someone else wrote with the marker
 * pasted in: editing it would put the verdict in a comment its author can rewrite.
 */
export async function findStickyComment(client: IssueComments, issue: number, marker: string, author: CommentAuthor): Promise<IssueComment | undefined> {
  for await (const c of client.list(issue)) {
    if (carriesMarker(c.body, marker) && writtenBy(c, author)) return c;
  }
  return undefined;
}

export interface StickyResult {
  action: CommentAction;
  comment?: IssueComment;
}

/** Creates, updates or leaves the sticky comment, as `mode` and the verdict say. */
export async function upsertStickyComment(opts: {
  client: IssueComments;
  issue: number;
  marker: string;
  body: string;
  mode: CommentMode;
  failing: boolean;
}): Promise<StickyResult> {
  if (opts.mode === 'never') return { action: 'skip' };
  if (!carriesMarker(opts.body, opts.marker)) throw new Error('the comment body must start with the marker');
  const existing = await findStickyComment(opts.client, opts.issue, opts.marker, await opts.client.author());
  const action = commentAction(opts.mode, opts.failing, existing !== undefined);
  if (action === 'skip') return { action };
  if (action === 'update') return { action, comment: await opts.client.update(existing!.id, opts.body) };
  return { action, comment: await opts.client.create(opts.issue, opts.body) };
}
