/** A named check `/readyz` runs; it returns false or throws when the service cannot take traffic. */
export interface ReadinessCheck {
  name: string;
  check: () => boolean | Promise<boolean>;
}

/** Whether the process takes traffic. Shutdown flips it first so probes fail before the listener closes. */
export class Readiness {
  private shuttingDown = false;

  constructor(private readonly checks: ReadinessCheck[] = []) {}

  get isShuttingDown(): boolean {
    return this.shuttingDown;
  }

  beginShutdown(): void {
    this.shuttingDown = true;
  }

  /** Runs every check; `failing` lists the names that failed. */
  async evaluate(): Promise<{ ready: boolean; failing: string[] }> {
    if (this.shuttingDown) return { ready: false, failing: ['shutting-down'] };
    const results = await Promise.all(
      this.checks.map(async ({ name, check }) => {
        try {
          return (await check()) ? undefined : name;
        } catch {
          return name;
        }
      }),
    );
    const failing = results.filter((name): name is string => name !== undefined);
    return { ready: failing.length === 0, failing };
  }
}
