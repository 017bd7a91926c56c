// A local stand-in for GitHub's issue-comment REST endpoints, for the action's tests:
//   GET   /user                                                  (403 for an installation token)
//   GET   /repos/{owner}/{repo}/issues/{n}/comments?per_page=&page=   (Link: rel="next"/"last")
//   POST  /repos/{owner}/{repo}/issues/{n}/comments
//   PATCH /repos/{owner}/{repo}/issues/comments/{id}
// Unknown routes and ids give 404; a wrong or missing token 401; `readOnly` makes writes 403
// (a fork's or Dependabot's token). Every request is recorded.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface FakeComment {
  id: number;
  issue: number;
  body: string;
  user: { login: string; type: 'User' | 'Bot' };
  html_url: string;
  created_at: string;
  updated_at: string;
}

export interface RecordedRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  authorization?: string;
  body?: unknown;
}

export interface FakeGitHubOptions {
  owner?: string;
  repo?: string;
  token?: string;
  /** Writes answer 403, as for a read-only token. */
  readOnly?: boolean;
  /**
   * The token's user, as for a personal access token: GET /user answers with it and comments
   * are posted as it. Unset: an installation token (GITHUB_TOKEN), for which GET /user is 403
   * and comments are posted by github-actions[bot].
   */
  tokenUser?: string;
}

export class FakeGitHub {
  readonly owner: string;
  readonly repo: string;
  readonly token: string;
  readOnly: boolean;
  tokenUser?: string;
  readonly comments: FakeComment[] = [];
  readonly requests: RecordedRequest[] = [];
  private nextId = 1000;
  private server?: Server;
  url = '';

  constructor(opts: FakeGitHubOptions = {}) {
    this.owner = opts.owner ?? 'acme';
    this.repo = opts.repo ?? 'shop';
    this.token = opts.token ?? 'ghs_faketoken123';
    this.readOnly = opts.readOnly ?? false;
    this.tokenUser = opts.tokenUser;
  }

  async start(): Promise<string> {
    this.server = createServer((req, res) => {
      void this.handle(req, res).catch((e: unknown) => send(res, 500, { message: String(e) }));
    });
    await new Promise<void>((ok) => this.server!.listen(0, '127.0.0.1', ok));
    const { port } = this.server.address() as AddressInfo;
    this.url = `http://127.0.0.1:${port}`;
    return this.url;
  }

  async stop(): Promise<void> {
    if (!this.server) return;
    await new Promise<void>((ok) => this.server!.close(() => ok()));
    this.server = undefined;
  }

  /** Adds a comment as if someone had posted it. */
  seed(issue: number, body: string, login = 'someone', type: 'User' | 'Bot' = 'User'): FakeComment {
    const id = this.nextId++;
    const now = new Date(Date.UTC(2026, 0, 1, 0, 0, id % 60)).toISOString();
    const c: FakeComment = {
      id,
      issue,
      body,
      user: { login, type },
      html_url: `https://github.com/${this.owner}/${this.repo}/pull/${issue}#issuecomment-${id}`,
      created_at: now,
      updated_at: now,
    };
    this.comments.push(c);
    return c;
  }

  commentsOn(issue: number): FakeComment[] {
    return this.comments.filter((c) => c.issue === issue);
  }

  writes(): RecordedRequest[] {
    return this.requests.filter((r) => r.method !== 'GET');
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', this.url);
    const raw = await readBody(req);
    let body: unknown;
    if (raw) {
      try {
        body = JSON.parse(raw);
      } catch {
        return send(res, 400, { message: 'Problems parsing JSON' });
      }
    }
    this.requests.push({
      method: req.method ?? 'GET',
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      authorization: req.headers.authorization,
      body,
    });

    const auth = req.headers.authorization ?? '';
    if (auth !== `Bearer ${this.token}` && auth !== `token ${this.token}`) {
      return send(res, 401, { message: 'Bad credentials' });
    }

    if (url.pathname === '/user' && req.method === 'GET') {
      if (!this.tokenUser) return send(res, 403, { message: 'Resource not accessible by integration', documentation_url: 'https://docs.github.com/rest/users/users#get-the-authenticated-user', status: '403' });
      return send(res, 200, { login: this.tokenUser, type: 'User' });
    }

    const prefix = `/repos/${this.owner}/${this.repo}/issues/`;
    if (!url.pathname.startsWith(prefix)) return send(res, 404, { message: 'Not Found' });
    const rest = url.pathname.slice(prefix.length);

    let m = /^(\d+)\/comments$/.exec(rest);
    if (m) {
      const issue = Number(m[1]);
      if (req.method === 'GET') return this.list(issue, url, res);
      if (req.method === 'POST') {
        if (this.readOnly) return send(res, 403, { message: 'Resource not accessible by integration' });
        const text = (body as { body?: unknown } | undefined)?.body;
        if (typeof text !== 'string') return send(res, 422, { message: 'body is required' });
        if (text.length > 65_536) return send(res, 422, { message: 'Body is too long (maximum is 65536 characters)' });
        return send(res, 201, this.tokenUser ? this.seed(issue, text, this.tokenUser, 'User') : this.seed(issue, text, 'github-actions[bot]', 'Bot'));
      }
      return send(res, 405, { message: 'Method Not Allowed' });
    }

    m = /^comments\/(\d+)$/.exec(rest);
    if (m) {
      const comment = this.comments.find((c) => c.id === Number(m![1]));
      if (!comment) return send(res, 404, { message: 'Not Found' });
      if (req.method === 'GET') return send(res, 200, comment);
      if (req.method === 'PATCH') {
        if (this.readOnly) return send(res, 403, { message: 'Resource not accessible by integration' });
        const text = (body as { body?: unknown } | undefined)?.body;
        if (typeof text !== 'string') return send(res, 422, { message: 'body is required' });
        if (text.length > 65_536) return send(res, 422, { message: 'Body is too long (maximum is 65536 characters)' });
        comment.body = text;
        comment.updated_at = new Date().toISOString();
        return send(res, 200, comment);
      }
      return send(res, 405, { message: 'Method Not Allowed' });
    }
    return send(res, 404, { message: 'Not Found' });
  }

  private list(issue: number, url: URL, res: ServerResponse): void {
    const perPage = Math.min(100, Math.max(1, Number(url.searchParams.get('per_page') ?? 30) || 30));
    const page = Math.max(1, Number(url.searchParams.get('page') ?? 1) || 1);
    const all = this.commentsOn(issue);
    const lastPage = Math.max(1, Math.ceil(all.length / perPage));
    const items = all.slice((page - 1) * perPage, page * perPage);
    const link = (p: number, rel: string): string => {
      const u = new URL(url.pathname, this.url);
      u.searchParams.set('per_page', String(perPage));
      u.searchParams.set('page', String(p));
      return `<${u.toString()}>; rel="${rel}"`;
    };
    const links: string[] = [];
    if (page < lastPage) links.push(link(page + 1, 'next'), link(lastPage, 'last'));
    if (page > 1) links.push(link(1, 'first'), link(page - 1, 'prev'));
    send(res, 200, items, links.length ? { Link: links.join(', ') } : {});
  }
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((ok, fail) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => ok(Buffer.concat(chunks).toString('utf8')));
    req.on('error', fail);
  });
}

function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', ...headers });
  res.end(JSON.stringify(body));
}
