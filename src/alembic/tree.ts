// One source tree (base or head) with its Alembic worker. Restarts the worker after a step
// that had to be killed, so the gate can go on with the next revision.
import { join, relative, sep } from 'node:path';
import { AlembicWorker, WorkerError, type LockObservation, type StepResult, type WorkerGraph, type WorkerVersions } from './worker-client.js';
import type { ConfigShape } from './project-config.js';
import { buildGraph, type RevisionGraph, type RevisionNode } from '../graph/graph.js';

export interface DatabaseTarget {
  /** The engine whose database this is (src/engines/<id>/). */
  engine: string;
  /** SQLAlchemy URL (the project's driver): sqlalchemy.url and --url-env variables. */
  url: string;
  /** libpq URL without a driver: DATABASE_URL. */
  plainUrl: string;
  /** Where every connection the project's code makes lands (see alembic_gate_worker/guard.py, "where every connection lands"). */
  twin: { host: string; port: number; user: string; password?: string; database: string; sslmode?: string };
  /** What a live connection to this server reports as its start time. */
  marker: string;
  /** Other spellings of the server's host (the gate's socket directory). */
  aliases: string[];
  allowed: { host: string; port: number; database: string };
  /**
   * multidb (`alembic init -t multidb`): the ini section this database is the twin of, and the
   * twins of the other sections, one database each. Absent for a project of one database.
   */
  section?: string;
  others?: { section: string; target: DatabaseTarget }[];
}

/** How the project's connections are treated, and where the notices about them go (shared by every tree of a run). */
export interface TreeConnections {
  urlEnvVars: string[];
  /** redirect: any database the project names lands on the twin; refuse: only the gate's URLs are allowed. */
  mode: 'redirect' | 'refuse';
  notices: Set<string>;
  /** Variables the worker gets whatever their names (--pass-env). */
  passEnv: readonly string[];
  /** How long loading the configuration and every revision file may take (--step-timeout). */
  loadTimeoutMs?: number;
  /** The head builds a Flask app once at load to read its database URL (the engine to run on). */
  probeAppUrl?: boolean;
}

/** Where the project's configuration is, relative to a tree's root (the same in base and head). */
export interface TreeLayout {
  shape: ConfigShape;
  /** The file that configures Alembic (an ini or pyproject.toml). */
  config: string;
  ini: string | null;
  toml: string | null;
  /** The directory Alembic runs from. */
  cwd: string;
  flaskApp?: string;
}

export class SourceTree {
  private worker: AlembicWorker | null = null;
  private target: DatabaseTarget | null = null;
  /** The engine of the database the tree was last pointed at. */
  get engineId(): string | null {
    return this.target?.engine ?? null;
  }
  graph: RevisionGraph | null = null;
  rawGraph: WorkerGraph | null = null;
  versions: WorkerVersions | null = null;
  /** The URL the project's configuration names (sqlalchemy.url, a Flask app's), once loaded. */
  projectUrl: string | null = null;
  /** The ini sections of a multidb project (one database each), or null. */
  sections: string[] | null = null;
  /** The version table env.py configured, once a step has told (snapshots leave it out). */
  versionTable: { schema: string | null; name: string } | null = null;

  constructor(
    readonly label: 'base' | 'head',
    /** Root of the tree (repository root or an exported copy). */
    readonly root: string,
    /** Where the configuration is inside this tree. */
    readonly layout: TreeLayout,
    private readonly python: string,
    private readonly connections: TreeConnections,
  ) {}

  /** Starts Python, loads alembic.ini and every revision file. */
  async start(): Promise<void> {
    this.worker = await AlembicWorker.start({ python: this.python, cwd: this.root, label: this.label, passEnv: this.connections.passEnv, onNotice: (n) => this.connections.notices.add(n) });
    const at = (p: string | null) => (p === null ? null : join(this.root, p));
    const l = this.layout;
    const loaded = await this.worker.load(at(l.config)!, this.root, { shape: l.shape, ini: at(l.ini), toml: at(l.toml), cwd: at(l.cwd)!, ...(l.flaskApp ? { flaskApp: l.flaskApp } : {}), ...(this.label === 'head' && this.connections.probeAppUrl ? { probeAppUrl: true } : {}) }, this.connections.loadTimeoutMs);
    this.versions = loaded.versions;
    this.sections = loaded.databases?.length ? loaded.databases : null;
    this.projectUrl = loaded.url ?? null;
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
      upgradeCode: r.upgradeCode ?? null,
      downgradeCode: r.downgradeCode ?? null,
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
    await this.live().useDatabase(target, this.connections.mode, this.connections.urlEnvVars);
  }

  /** Closes the connection kept between steps, so the database can be copied. */
  async release(): Promise<void> {
    if (this.worker?.alive) await this.worker.release();
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

  async upgrade(target: string, timeoutMs: number, observe?: LockObservation, trace = false) {
    await this.ensureAlive();
    return this.learn(await this.live().upgrade(target, timeoutMs, observe, trace));
  }

  async downgrade(target: string, timeoutMs: number, observe?: LockObservation, trace = false) {
    await this.ensureAlive();
    return this.learn(await this.live().downgrade(target, timeoutMs, observe, trace));
  }

  async bootstrapModels(timeoutMs: number): Promise<void> {
    await this.ensureAlive();
    this.learn(await this.live().bootstrapModels(timeoutMs));
  }

  /** env.py's own setup, without migrations; a failure is left for the first real step to report. */
  async setup(timeoutMs: number): Promise<void> {
    await this.ensureAlive();
    await this.live().setup(timeoutMs).then((r) => this.learn(r), () => {});
  }

  private learn(result: StepResult): StepResult {
    if (result.versionTable) this.versionTable = result.versionTable;
    return result;
  }

  async sql(direction: 'upgrade' | 'downgrade', from: string | null, to: string, timeoutMs: number) {
    await this.ensureAlive();
    return this.live().sql(direction, from, to, timeoutMs);
  }

  async drift(timeoutMs: number) {
    await this.ensureAlive();
    return this.live().drift(timeoutMs);
  }

  async compat(timeoutMs: number) {
    await this.ensureAlive();
    return this.live().compat(timeoutMs);
  }

  async close(): Promise<void> {
    const w = this.worker;
    this.worker = null;
    if (w) await w.close();
  }
}
