/**
 * Child processes for the local stack and tests: each runs in its own process group so that
 * stopping it stops everything it started, and its output is read line by line.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';

export interface ChildHandle {
  readonly pid: number;
  readonly child: ChildProcess;
  /** Every line written so far, stdout and stderr interleaved. */
  readonly output: string[];
  /** Resolves with the exit code (null when killed by a signal) once the process has exited. */
  readonly exited: Promise<number | null>;
  /** Resolves with the first line matching `predicate`; rejects if the process exits or time runs out first. */
  waitForLine(predicate: (line: string) => boolean, timeoutMs: number): Promise<string>;
  /** SIGTERM to the whole group, SIGKILL after `graceMs`; resolves once the process has exited. */
  stop(graceMs?: number): Promise<void>;
}

export interface SpawnOptions {
  /** What to call the process in error messages; default the command. */
  readonly name?: string;
  readonly cwd?: string;
  readonly env?: NodeJS.ProcessEnv;
  /** Called with each output line as it arrives. */
  readonly onLine?: (line: string, stream: 'stdout' | 'stderr') => void;
}

/** Starts `command` in a new process group. */
export function spawnGroup(command: string, args: readonly string[], options: SpawnOptions = {}): ChildHandle {
  const child = spawn(command, args, { cwd: options.cwd, env: options.env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  if (child.pid === undefined) throw new Error(`Could not start ${command}`);
  const pid = child.pid;
  const name = options.name ?? command;
  const output: string[] = [];
  const listeners = new Set<(line: string) => void>();
  let exitCode: number | null | undefined;
  const exited = new Promise<number | null>((done) => {
    child.once('exit', (code) => {
      exitCode = code;
      done(code);
    });
    child.once('error', () => done(-1));
  });
  for (const stream of ['stdout', 'stderr'] as const) {
    createInterface({ input: child[stream] }).on('line', (line) => {
      output.push(line);
      options.onLine?.(line, stream);
      for (const listener of listeners) listener(line);
    });
  }

  const waitForLine = (predicate: (line: string) => boolean, timeoutMs: number) =>
    new Promise<string>((done, fail) => {
      const seen = output.find(predicate);
      if (seen !== undefined) return done(seen);
      const finish = () => {
        clearTimeout(timer);
        listeners.delete(listener);
      };
      const listener = (line: string) => {
        if (predicate(line)) {
          finish();
          done(line);
        }
      };
      const timer = setTimeout(() => {
        finish();
        fail(new Error(`${name} gave no ready line within ${timeoutMs} ms. Output:\n${output.slice(-20).join('\n')}`));
      }, timeoutMs);
      listeners.add(listener);
      void exited.then((code) => {
        if (!listeners.has(listener)) return;
        // Let the last lines arrive before reporting.
        setTimeout(() => {
          if (!listeners.has(listener)) return;
          finish();
          fail(new Error(`${name} exited with code ${code} before it was ready. Output:\n${output.slice(-20).join('\n')}`));
        }, 50);
      });
    });

  const stop = async (graceMs = 5_000) => {
    if (exitCode === undefined) {
      signalGroup(pid, 'SIGTERM');
      const timer = setTimeout(() => signalGroup(pid, 'SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    }
    // Anything the leader left behind in its group goes too.
    if (isGroupAlive(pid)) signalGroup(pid, 'SIGKILL');
  };

  return { pid, child, output, exited, waitForLine, stop };
}

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // The group is already gone.
  }
}

function isGroupAlive(pid: number): boolean {
  try {
    process.kill(-pid, 0);
    return true;
  } catch {
    return false;
  }
}
