// Per-phase wall-clock timings for the report (phases may overlap when run concurrently).
export class Stopwatch {
  private readonly started = performance.now();
  readonly phases: Record<string, number> = {};

  add(phase: string, ms: number): void {
    this.phases[phase] = Math.round(((this.phases[phase] ?? 0) + ms) * 10) / 10;
  }

  async time<T>(phase: string, fn: () => Promise<T>): Promise<T> {
    const t = performance.now();
    try {
      return await fn();
    } finally {
      this.add(phase, performance.now() - t);
    }
  }

  total(): number {
    return Math.round(performance.now() - this.started);
  }
}
