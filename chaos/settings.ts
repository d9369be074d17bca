/**
 * `npm run chaos` settings: a size picks the counts; single options override them.
 * `full` is the size (10,000 deliveries, 10,000 requests, 500 grants, 200 rotations); `tiny` is what `npm test` runs.
 */
export const SIZES = ['tiny', 'small', 'full'] as const;
export type Size = (typeof SIZES)[number];

export interface ChaosSettings {
  readonly size: Size;
  /** App instances behind one address; every figure is taken with 3 (issue 16). */
  readonly instances: number;
  /** Generated Event Grid deliveries (point 4). */
  readonly deliveries: number;
  /** Generated HTTP requests across every route (point 4). */
  readonly requests: number;
  /** VMs in the workload run clean and under faults (point 2). */
  readonly workloadVms: number;
  /** Tagged VMs granted while instances are killed (point 3). */
  readonly grants: number;
  /** SIGKILLs during that burst, and again during the rotations, each followed by a restart of the instance. */
  readonly kills: number;
  /** Forced rotations of pull credentials while instances are killed (point 3). */
  readonly rotations: number;
  /** Requests in flight at once, deliveries and API calls each. */
  readonly concurrency: number;
  /** fast-check's seed: the same seed generates the same input, so a failing run can be replayed. */
  readonly seed: number;
}

const BY_SIZE: Record<Size, Omit<ChaosSettings, 'size' | 'seed'>> = {
  tiny: { instances: 3, deliveries: 60, requests: 60, workloadVms: 6, grants: 12, kills: 1, rotations: 6, concurrency: 6 },
  small: { instances: 3, deliveries: 1_000, requests: 1_000, workloadVms: 12, grants: 100, kills: 4, rotations: 20, concurrency: 8 },
  full: { instances: 3, deliveries: 10_000, requests: 10_000, workloadVms: 30, grants: 500, kills: 8, rotations: 200, concurrency: 8 },
};

/**
 * The credentials lease of the chaos stack (CREDENTIALS_LEASE_SECONDS, with the call timeout it must
 * be three times): short, so point 3 can wait out the lease of a killed run and then check that every
 * rotation request it answered was carried out.
 */
export const CHAOS_CREDENTIALS = { leaseSeconds: 15, callTimeoutSeconds: 5 } as const;

export function settingsFor(size: Size, overrides: Partial<ChaosSettings> = {}): ChaosSettings {
  return { size, seed: 16, ...BY_SIZE[size], ...overrides };
}

const NUMERIC = {
  '--instances': 'instances',
  '--deliveries': 'deliveries',
  '--requests': 'requests',
  '--workload-vms': 'workloadVms',
  '--grants': 'grants',
  '--kills': 'kills',
  '--rotations': 'rotations',
  '--concurrency': 'concurrency',
  '--seed': 'seed',
} as const;

/** `--size tiny|small|full`, `--deliveries N`, `--requests N`, `--grants N`, `--kills N`, `--rotations N`, `--instances N`, `--concurrency N`, `--seed N`, `--out FILE`. */
export function parseArgs(args: readonly string[]): { settings: ChaosSettings; out: string } {
  let size: Size = 'full';
  let out = 'chaos/results.json';
  const overrides: Record<string, number> = {};
  for (let i = 0; i < args.length; i++) {
    const [flag, inline] = args[i]!.split(/=(.*)/s, 2) as [string, string | undefined];
    const value = inline ?? args[++i];
    if (value === undefined) throw new Error(`${flag}: expected a value`);
    if (flag === '--size') {
      if (!(SIZES as readonly string[]).includes(value))
        throw new Error(`--size: expected ${SIZES.join('|')}, got ${JSON.stringify(value)}`);
      size = value as Size;
    } else if (flag === '--out') out = value;
    else if (flag in NUMERIC) {
      if (!/^\d+$/.test(value) || Number(value) < 1)
        throw new Error(`${flag}: expected a whole number of at least 1, got ${JSON.stringify(value)}`);
      overrides[NUMERIC[flag as keyof typeof NUMERIC]] = Number(value);
    } else
      throw new Error(
        `unknown option ${flag}. Usage: npm run chaos -- [--size tiny|small|full] [--deliveries N] [--requests N] [--workload-vms N] [--grants N] [--kills N] [--rotations N] [--instances N] [--concurrency N] [--seed N] [--out FILE]`,
      );
  }
  return { settings: settingsFor(size, overrides), out };
}
