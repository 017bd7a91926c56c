// Types of scripts/fixture-repo.mjs (plain JavaScript, shared with examples/demo.mjs).
export interface FixtureSpec {
  /** Directories (relative to the project root) layered into the `main` commit. */
  base: string[];
  /** Directories layered on top for the `pr` branch. */
  pr?: string[];
  /** Paths removed on the `pr` branch. */
  prDelete?: string[];
  /** Directories layered onto `main` after the `pr` branch was cut. */
  mainAfter?: string[];
}

export interface SyncFixtureRepo {
  dir: string;
  baseSha: string;
  headSha: string;
  cleanup(): void;
}

export interface FixtureRepoModule {
  projectRoot: string;
  makeRepo(spec: FixtureSpec): SyncFixtureRepo;
  makeFixtureRepo(name: string): SyncFixtureRepo;
}
