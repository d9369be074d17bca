/**
 * Bench sizes and the command-line overrides. `full` is what docs/performance.md's table comes from;
 * `small` is for development; `tiny` is what the harness test runs (a handful of events).
 */

export const SCENARIOS = ['latency', 'calls', 'burst', 'rotation', 'coldStart', 'scale'] as const;
export type ScenarioName = (typeof SCENARIOS)[number];
export const SIZES = ['tiny', 'small', 'full'] as const;
export type Size = (typeof SIZES)[number];

export interface BenchSettings {
  readonly size: Size;
  readonly scenarios: readonly ScenarioName[];
  /** 1. VMs created one at a time, per latency setting. */
  readonly latencyVms: number;
  /** 1. Emulator latency per call (ms) on the ARM endpoint's APIs, one pass each. */
  readonly latenciesMs: readonly number[];
  /** 2. Consumers waiting for a registry that does not exist yet. */
  readonly waitingConsumers: number;
  /** 3. VMs created at once under the write throttle. */
  readonly burstVms: number;
  /**
   * 3. ARM's bucket is 200 writes burst then 10/s for 1,000 writes; the bench keeps that shape for
   * `burstVms` (burst and refill scaled by burstVms / 1000) and divides time by this factor
   * (refill multiplied by it). 1 = ARM's own numbers at 1,000 VMs.
   */
  readonly timeScale: number;
  /** 3. The burst is run once per entry, with that many app instances behind one address (issue 15: 1 and 3). */
  readonly burstInstances: readonly number[];
  /** 4. Registries due at once on the timer. */
  readonly rotations: number;
  /** 5. Fresh processes per build. */
  readonly coldStartRuns: number;
  /** 7. Tagged consumers seeded for the at-scale registry event and quiet sweep (of which `waitingConsumers` name the registry). */
  readonly scaleConsumers: number;
}

const BASE: Record<Size, Omit<BenchSettings, 'size' | 'scenarios'>> = {
  tiny: {
    latencyVms: 3,
    latenciesMs: [0, 100],
    waitingConsumers: 3,
    burstVms: 10,
    timeScale: 20,
    burstInstances: [1, 3],
    rotations: 2,
    coldStartRuns: 2,
    scaleConsumers: 60,
  },
  small: {
    latencyVms: 30,
    latenciesMs: [0, 100],
    waitingConsumers: 10,
    burstVms: 200,
    timeScale: 4,
    burstInstances: [1, 3],
    rotations: 10,
    coldStartRuns: 4,
    scaleConsumers: 500,
  },
  full: {
    latencyVms: 200,
    latenciesMs: [0, 100],
    waitingConsumers: 50,
    burstVms: 1000,
    timeScale: 2,
    burstInstances: [1, 3],
    rotations: 100,
    coldStartRuns: 10,
    scaleConsumers: 5000,
  },
};

/** ARM's documented write bucket: https://learn.microsoft.com/azure/azure-resource-manager/management/request-limits-and-throttling */
export const ARM_WRITE_BUCKET = { burst: 200, refillPerSecond: 10, forWrites: 1000 } as const;
/** ARM's documented read bucket (same page), scaled with the write bucket. */
export const ARM_READ_BUCKET = { burst: 250, refillPerSecond: 25 } as const;

/** The bucket the burst scenario sets on the emulator, from the settings. */
export function burstBucket(settings: Pick<BenchSettings, 'burstVms' | 'timeScale'>): {
  burst: number;
  refillPerSecond: number;
  boundMs: number;
  reads: { burst: number; refillPerSecond: number };
} {
  const share = settings.burstVms / ARM_WRITE_BUCKET.forWrites;
  const burst = Math.max(1, Math.round(ARM_WRITE_BUCKET.burst * share));
  const refillPerSecond = ARM_WRITE_BUCKET.refillPerSecond * share * settings.timeScale;
  const boundMs = (Math.max(0, settings.burstVms - burst) / refillPerSecond) * 1000;
  const reads = {
    burst: Math.max(1, Math.round(ARM_READ_BUCKET.burst * share)),
    refillPerSecond: ARM_READ_BUCKET.refillPerSecond * share * settings.timeScale,
  };
  return { burst, refillPerSecond, boundMs, reads };
}

export const USAGE = `npm run bench -- [--size tiny|small|full] [--only ${SCENARIOS.join(',')}]
  [--latency-vms N] [--latencies 0,100] [--waiting-consumers N] [--burst-vms N] [--time-scale F] [--burst-instances 1,3]
  [--rotations N] [--cold-start-runs N] [--scale-consumers N] [--out bench/results.json]`;

/** Parses the command line; throws with the usage on anything it does not know. */
export function parseArgs(argv: readonly string[]): { settings: BenchSettings; out: string } {
  const options = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const m = /^--([a-z-]+)(?:=(.*))?$/.exec(arg);
    if (!m) throw new Error(`unknown argument ${arg}\n${USAGE}`);
    const value = m[2] ?? argv[++i];
    if (value === undefined) throw new Error(`--${m[1]} needs a value\n${USAGE}`);
    options.set(m[1]!, value);
  }
  const size = (options.get('size') ?? 'full') as Size;
  if (!SIZES.includes(size)) throw new Error(`--size: expected ${SIZES.join('|')}, got ${size}\n${USAGE}`);
  const base = BASE[size];
  const int = (name: string, fallback: number, min = 1) => {
    const raw = options.get(name);
    if (raw === undefined) return fallback;
    const n = Number(raw);
    if (!Number.isInteger(n) || n < min) throw new Error(`--${name}: expected a whole number >= ${min}, got ${raw}`);
    return n;
  };
  const only = options.get('only');
  const scenarios = only ? only.split(',').map((s) => s.trim()) : [...SCENARIOS];
  for (const s of scenarios)
    if (!SCENARIOS.includes(s as ScenarioName)) throw new Error(`--only: unknown scenario ${s} (${SCENARIOS.join(', ')})`);
  const timeScale = Number(options.get('time-scale') ?? base.timeScale);
  if (!(timeScale > 0)) throw new Error(`--time-scale: expected a number > 0, got ${options.get('time-scale')}`);
  const latencies = options.get('latencies')?.split(',').map(Number) ?? base.latenciesMs;
  if (latencies.some((l) => !Number.isFinite(l) || l < 0))
    throw new Error(`--latencies: expected numbers >= 0, got ${options.get('latencies')}`);
  const burstInstances = options.get('burst-instances')?.split(',').map(Number) ?? base.burstInstances;
  if (burstInstances.length === 0 || burstInstances.some((n) => !Number.isInteger(n) || n < 1))
    throw new Error(`--burst-instances: expected whole numbers >= 1, got ${options.get('burst-instances')}`);
  const known = new Set([
    'size',
    'only',
    'latency-vms',
    'latencies',
    'waiting-consumers',
    'burst-vms',
    'time-scale',
    'burst-instances',
    'rotations',
    'cold-start-runs',
    'scale-consumers',
    'out',
  ]);
  for (const k of options.keys()) if (!known.has(k)) throw new Error(`unknown option --${k}\n${USAGE}`);
  return {
    settings: {
      size,
      scenarios: scenarios as ScenarioName[],
      latencyVms: int('latency-vms', base.latencyVms),
      latenciesMs: latencies,
      waitingConsumers: int('waiting-consumers', base.waitingConsumers),
      burstVms: int('burst-vms', base.burstVms),
      timeScale,
      burstInstances,
      rotations: int('rotations', base.rotations),
      coldStartRuns: int('cold-start-runs', base.coldStartRuns),
      scaleConsumers: int('scale-consumers', base.scaleConsumers),
    },
    out: options.get('out') ?? 'bench/results.json',
  };
}

export function settingsFor(size: Size, overrides: Partial<BenchSettings> = {}): BenchSettings {
  return { size, scenarios: [...SCENARIOS], ...BASE[size], ...overrides };
}
