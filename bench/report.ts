/**
 * The bench's output: figures (each with its goal and whether it was met), the one table printed
 * at the end, and `bench/results.json` (figures, settings, machine, commit).
 */
import { execFileSync } from 'node:child_process';
import { cpus, freemem, loadavg, totalmem } from 'node:os';

/** One measured figure. `met` is undefined when the figure has no goal (it is reported only). */
export interface Figure {
  readonly scenario: string;
  readonly name: string;
  /** The number behind the figure (ms, count, ratio, MB …); null when it could not be measured. */
  readonly value: number | null;
  readonly unit: string;
  /** How the value is printed, when not just the number and its unit. */
  readonly display?: string;
  readonly goal?: string;
  readonly met?: boolean;
  /** Counters and detail behind the figure. */
  readonly detail?: Readonly<Record<string, unknown>>;
}

export interface Machine {
  readonly cores: number;
  readonly cpuModel: string;
  readonly memoryMb: number;
  readonly node: string;
  readonly platform: string;
  /** 1/5/15-minute load averages at the start and end of the run: other work on the machine. */
  readonly loadAtStart: readonly number[];
  readonly loadAtEnd?: readonly number[];
}

export interface BenchResults {
  readonly startedAt: string;
  readonly durationMs: number;
  readonly command: string;
  readonly commit: string;
  readonly machine: Machine;
  readonly settings: Readonly<Record<string, unknown>>;
  readonly figures: readonly Figure[];
  /** Scenarios that failed outright, with the error. */
  readonly errors: readonly { readonly scenario: string; readonly error: string }[];
}

export function describeMachine(): Machine {
  const list = cpus();
  return {
    cores: list.length,
    cpuModel: list[0]?.model.trim() ?? 'unknown',
    memoryMb: Math.round(totalmem() / 2 ** 20),
    node: process.version,
    platform: `${process.platform} ${process.arch}`,
    loadAtStart: loadavg().map((l) => Math.round(l * 100) / 100),
  };
}

/** The checked-out commit, with `+dirty` when the tree has changes. */
export function currentCommit(cwd: string): string {
  try {
    const sha = execFileSync('git', ['rev-parse', 'HEAD'], { cwd, encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain'], { cwd, encoding: 'utf8' }).trim() !== '';
    return dirty ? `${sha}+dirty` : sha;
  } catch {
    return 'unknown';
  }
}

export const memoryFreeMb = (): number => Math.round(freemem() / 2 ** 20);

/** The value as printed: the display text, or the number with its unit. */
export function formatValue(f: Figure): string {
  if (f.display) return f.display;
  if (f.value === null) return 'not measured';
  const n = Number.isInteger(f.value)
    ? f.value.toLocaleString('en-US')
    : f.value.toLocaleString('en-US', { maximumFractionDigits: f.value < 10 ? 2 : 1 });
  return f.unit ? `${n} ${f.unit}` : n;
}

const verdict = (f: Figure): string => (f.met === undefined ? '—' : f.met ? 'met' : 'MISSED');

/** The one table: scenario, figure, value, goal, met/missed — as a Markdown table (it reads as plain text too). */
export function formatTable(figures: readonly Figure[]): string {
  const rows = figures.map((f) => [f.scenario, f.name, formatValue(f), f.goal ?? '—', verdict(f)]);
  const header = ['Scenario', 'Figure', 'Value', 'Goal', 'Met'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: readonly string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  return [line(header), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...rows.map(line)].join('\n');
}

/** One line per figure that missed its goal or was not measured, for the end of the output. */
export function summarise(results: BenchResults): string {
  const missed = results.figures.filter((f) => f.met === false);
  const unmeasured = results.figures.filter((f) => f.value === null);
  const lines = [
    `${results.figures.length} figures, ${results.figures.filter((f) => f.met === true).length} goals met, ${missed.length} missed, ${unmeasured.length} not measured, ${results.errors.length} scenario errors; ${(results.durationMs / 1000).toFixed(0)} s`,
    `machine: ${results.machine.cores} cores (${results.machine.cpuModel}), ${results.machine.memoryMb.toLocaleString('en-US')} MB, Node ${results.machine.node}; load average ${results.machine.loadAtStart.join(' / ')} at start, ${results.machine.loadAtEnd?.join(' / ') ?? '?'} at end; commit ${results.commit}`,
  ];
  for (const e of results.errors) lines.push(`error in ${e.scenario}: ${e.error}`);
  return lines.join('\n');
}
