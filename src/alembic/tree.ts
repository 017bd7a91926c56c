// One source tree (base or head) with its Alembic worker. Restarts the worker after a step
// that had to be killed, so the gate can go on with the next revision.
import { relative, sep } from 'node:path';
import { AlembicWorker, WorkerError, type WorkerGraph, type WorkerVersions } from './worker-client.js';
import { buildGraph, type RevisionGraph, type RevisionNode } from '../graph/graph.js';

export interface DatabaseTarget {
  url: string;
  allowed: { host: string; port: number; database: string };
}

export class SourceTree {
  private worker: AlembicWorker | null = null;
  private target: DatabaseTarget | null = null;
  graph: RevisionGraph | null = null;
  rawGraph: WorkerGraph | null = null;
  versions: WorkerVersions | null = null;

  constructor(
    readonly label: 'base' | 'head',
    /** Root of the tree (repository root or an exported copy). */
    readonly root: string,
    /** Absolute path of alembic.ini inside this tree. */
    readonly iniPath: string,
    private readonly python: string,
    private readonly urlEnvVars: string[],
  ) {}

  /** Starts Python, loads alembic.ini and every revision file. */
  async start(): Promise<void> {
    this.worker = await AlembicWorker.start({ python: this.python, cwd: this.root, label: this.label });
    const loaded = await this.worker.load(this.iniPath, this.root);
    this.versions = loaded.versions;
    this.rawGraph = loaded.graph;
    if (loaded.graph.ok) this.graph = buildGraph(loaded.graph.revisions.map((r) => this.toNode(r)));
    if (this.target) await this.useDatabase(this.target);
  }

  private toNode(r: WorkerGraph['revisions'][number]): RevisionNode {
    return {
      revision: r.revision,
      downRevisions: r.downRevisions,
      dependsOn: r.dependsOn,
      branchLabels: r.branchLabels,
      message: r.message,
      file: this.relativePath(r.path),
      upgradeHash: r.upgradeHash,
      downgradeHash: r.downgradeHash,
    };
  }

  /** A path inside this tree as the repository names it (forward slashes). */
  relativePath(path: string | null | undefined): string {
    if (!path) return '';
    const rel = relative(this.root, path);
    return rel.startsWith('..') ? path : rel.split(sep).join('/');
  }

  async useDatabase(target: DatabaseTarget): Promise<void> {
    this.target = target;
    await this.live().useDatabase(target.url, target.allowed, this.urlEnvVars);
  }

  /** The worker, restarted if a timeout killed it. */
  private live(): AlembicWorker {
    if (!this.worker) throw new WorkerError({ kind: 'crash', message: `the ${this.label} worker was not started` }, '');
    return this.worker;
  }

  async ensureAlive(): Promise<void> {
    if (this.worker && !this.worker.alive) {
      await this.start();
    }
  }

  async upgrade(target: string, timeoutMs: number) {
    await this.ensureAlive();
    return this.live().upgrade(target, timeoutMs);
  }

  async downgrade(target: string, timeoutMs: number) {
    await this.ensureAlive();
    return this.live().downgrade(target, timeoutMs);
  }

  async sql(direction: 'upgrade' | 'downgrade', from: string | null, to: string, timeoutMs: number) {
    await this.ensureAlive();
    return this.live().sql(direction, from, to, timeoutMs);
  }

  async drift(timeoutMs: number) {
    await this.ensureAlive();
    return this.live().drift(timeoutMs);
  }

  async close(): Promise<void> {
    const w = this.worker;
    this.worker = null;
    if (w) await w.close();
  }
}
