// A thin wrapper over the git command line: one typed method per question. Every git the product
// runs (here, the action's base resolution, the entry points) starts in `spawnGit`, with the same
// environment: no credential prompt (a fetch fails instead of waiting for a terminal), C locale
// (messages we match and quote are git's English ones).
import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process';

export class GitError extends Error {
  constructor(
    message: string,
    readonly stderr: string,
  ) {
    super(message);
    this.name = 'GitError';
  }
}

export interface GitResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** The environment every git runs with. */
export function gitEnvironment(env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  return { ...env, GIT_TERMINAL_PROMPT: '0', LC_ALL: 'C' };
}

/** Starts `git <args>` in `cwd`: the one place the product spawns git. */
export function spawnGit(args: readonly string[], cwd: string, stdio: StdioOptions = ['ignore', 'pipe', 'pipe']): ChildProcess {
  return spawn('git', [...args], { cwd, stdio, env: gitEnvironment() });
}

/** Runs `git <args>` in `cwd` to its end; a git that cannot start is code 127. Never throws. */
export function runGit(args: readonly string[], cwd: string): Promise<GitResult> {
  return new Promise((resolve) => {
    const child = spawnGit(args, cwd);
    let stdout = '';
    let stderr = '';
    child.stdout!.setEncoding('utf8').on('data', (d) => (stdout += d));
    child.stderr!.setEncoding('utf8').on('data', (d) => (stderr += d));
    child.on('error', (e) => resolve({ code: 127, stdout, stderr: String(e) }));
    child.on('close', (code) => resolve({ code: code ?? 1, stdout, stderr }));
  });
}

export class GitRepo {
  private constructor(readonly root: string) {}

  /** The repository containing `dir`; a clear error when there is none. */
  static async open(dir: string): Promise<GitRepo> {
    const r = await runGit(['rev-parse', '--show-toplevel'], dir);
    if (r.code !== 0) throw new GitError(`${dir} is not inside a git repository: alembic-gate compares the working tree with a base commit, so run it in a git checkout`, r.stderr);
    return new GitRepo(r.stdout.trim());
  }

  private async exec(args: string[], allowFailure = false): Promise<GitResult> {
    const r = await runGit(args, this.root);
    if (r.code !== 0 && !allowFailure) throw new GitError(`git ${args.join(' ')} failed: ${r.stderr.trim()}`, r.stderr);
    return r;
  }

  /** Full sha of a ref, or null when it does not name a commit here. */
  async resolveCommit(ref: string): Promise<string | null> {
    const r = await this.exec(['rev-parse', '--verify', '--quiet', '--end-of-options', `${ref}^{commit}`], true);
    return r.code === 0 ? r.stdout.trim() : null;
  }

  async headSha(): Promise<string | null> {
    return this.resolveCommit('HEAD');
  }

  /** True when tracked files differ from HEAD or untracked files exist. */
  async isDirty(): Promise<boolean> {
    const r = await this.exec(['status', '--porcelain', '--untracked-files=normal'], true);
    return r.code === 0 && r.stdout.trim().length > 0;
  }

  async mergeBase(a: string, b: string): Promise<string | null> {
    const r = await this.exec(['merge-base', a, b], true);
    return r.code === 0 ? r.stdout.trim() : null;
  }

  /** Every file path at a commit, relative to the repository root. */
  async listFiles(sha: string): Promise<Set<string>> {
    const r = await this.exec(['ls-tree', '-r', '--name-only', '-z', sha]);
    return new Set(r.stdout.split('\0').filter(Boolean));
  }

  /** The upstream default branch (origin/HEAD), else "main" / "master" if they exist. */
  async defaultBase(): Promise<string> {
    const r = await this.exec(['symbolic-ref', '--quiet', '--short', 'refs/remotes/origin/HEAD'], true);
    if (r.code === 0 && r.stdout.trim()) return r.stdout.trim();
    for (const candidate of ['main', 'origin/main', 'master', 'origin/master']) {
      if (await this.resolveCommit(candidate)) return candidate;
    }
    return 'main';
  }

  /** Writes the tree of a commit into `dest` (an empty directory), without touching the repo. */
  async exportTree(sha: string, dest: string): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      const archive = spawnGit(['archive', '--format=tar', sha], this.root);
      const tar = spawn('tar', ['-x', '-f', '-', '-C', dest], { stdio: ['pipe', 'ignore', 'pipe'] });
      let err = '';
      archive.stderr!.on('data', (d) => (err += d));
      tar.stderr.on('data', (d) => (err += d));
      archive.stdout!.pipe(tar.stdin);
      let pending = 2;
      let failed = false;
      const done = (code: number | null, what: string) => {
        if (code !== 0 && !failed) {
          failed = true;
          reject(new GitError(`could not export ${sha} (${what} exited ${code}): ${err.trim()}`, err));
        }
        if (--pending === 0 && !failed) resolve();
      };
      archive.on('error', reject);
      tar.on('error', reject);
      archive.on('close', (c) => done(c, 'git archive'));
      tar.on('close', (c) => done(c, 'tar'));
    });
  }
}
