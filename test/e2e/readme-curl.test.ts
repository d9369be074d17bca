/**
 * Issue #6, "Done when": the README's curl examples work as written against `npm start`. Since issue 17
 * they live on the HTTP API's own page, docs/http-api.md (HTTP_API_DOC), which the README links.
 *
 * Runs scripts/start.ts as `npm start` does (its own emulator, Azurite and host; the demo on),
 * with LOCAL_DIR in a temp directory, so `.local/endpoints.json` lands where the examples read it
 * when run from that directory. Then each example of that page's HTTP API section (every ```sh
 * block between the http-api markers) runs with `bash -c`, in the page's order, after the block that
 * sets BASE, KEY and the ids — exactly as written. Each must exit 0 and answer the status its
 * comment promises after `→` (the first one: the state of a fresh `npm start`). The status is
 * read from curl's write-out, which a `.curlrc` in CURL_HOME sends to stderr, so the examples'
 * own output (and their pipes) are untouched.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { spawnGroup, type ChildHandle } from '../../devhost/childProcess.js';
import { REPO_ROOT } from '../support/hostProcess.js';

const STATUS_PREFIX = 'HTTP-STATUS ';
/** Where the HTTP API's curl examples live (moved out of the README by issue 17). */
const HTTP_API_DOC = 'docs/http-api.md';

interface Example {
  /** The comment above the command, joined. */
  readonly comment: string;
  /** The command lines, continuations included. */
  readonly command: string;
  /** The status the comment promises first after `→`. */
  readonly status: number;
}

/** The ```sh blocks between the HTTP API markers. */
export function httpApiBlocks(doc: string): string[] {
  const section = /<!-- http-api:start -->([\s\S]*?)<!-- http-api:end -->/.exec(doc)?.[1];
  if (!section) throw new Error(`${HTTP_API_DOC} has no http-api section`);
  return [...section.matchAll(/^```sh\n([\s\S]*?)^```$/gm)].map((m) => m[1]!);
}

/** One example per comment: the comment lines, then the command lines up to a blank line or the next comment. */
export function examplesOf(block: string): Example[] {
  const out: Example[] = [];
  let comment: string[] = [];
  let command: string[] = [];
  const flush = () => {
    if (command.length > 0) {
      const text = comment.join(' ');
      const promised = /→\s*(\d{3})/.exec(text);
      if (!promised) throw new Error(`${HTTP_API_DOC} example without a promised status (→ NNN): ${command.join('\n')}`);
      out.push({ comment: text, command: command.join('\n'), status: Number(promised[1]) });
      comment = [];
    }
    command = [];
  };
  for (const line of block.split('\n')) {
    if (line.trim() === '') flush();
    else if (line.startsWith('#')) {
      flush();
      comment.push(line.replace(/^#\s?/, ''));
    } else command.push(line);
  }
  flush();
  return out;
}

const [setup, ...exampleBlocks] = httpApiBlocks(readFileSync(join(REPO_ROOT, HTTP_API_DOC), 'utf8'));
const examples = exampleBlocks.flatMap(examplesOf);

let workDir: string;
let curlHome: string;
let start: ChildHandle | undefined;

beforeAll(async () => {
  workDir = mkdtempSync(join(tmpdir(), 'acr-readme-'));
  curlHome = join(workDir, 'curl-home');
  mkdirSync(curlHome);
  // curl reads $CURL_HOME/.curlrc: every curl an example runs also writes its status to stderr.
  writeFileSync(join(curlHome, '.curlrc'), `write-out = "%{stderr}${STATUS_PREFIX}%{http_code}\\n"\n`);
  start = spawnGroup(process.execPath, ['--import', 'tsx', 'scripts/start.ts'], {
    cwd: REPO_ROOT,
    env: { ...process.env, LOCAL_DIR: join(workDir, '.local'), FUNCTIONS_HTTP_PORT: '0', APP_ENTRY: inject('appEntry'), DEMO: 'on' },
  });
  await start.waitForLine((line) => line.startsWith('Endpoints and keys:'), 60_000);
  const failed = start.output.filter((l) => l.startsWith('✗'));
  if (failed.length > 0) throw new Error(`npm start reported: ${failed.join('\n')}`);
}, 90_000);

afterAll(async () => {
  if (start) {
    process.kill(start.pid, 'SIGINT');
    await start.exited;
    await start.stop();
  }
  if (workDir) rmSync(workDir, { recursive: true, force: true });
});

function runBash(script: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', ['-c', script], { cwd: workDir, env: { ...process.env, CURL_HOME: curlHome } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe(`${HTTP_API_DOC} curl examples against npm start`, () => {
  it('has a setup block that reads the key from .local/endpoints.json, and an example for every route', () => {
    expect(setup).toContain(`KEY=$(node -p "require('./.local/endpoints.json').functionKey")`);
    const routes = new Set(
      examples.flatMap((e) =>
        [...e.command.replace(/\\\n\s*/g, ' ').matchAll(/^(?:[^\n]*?-X (GET|POST|DELETE) )?[^\n]*?\$BASE\/([\w./]+)/gm)].map(
          (m) => `${m[1] ?? 'GET'} /api/${m[2]!.replace(/\/contosoacr/, '/{registry}')}`,
        ),
      ),
    );
    expect([...routes].sort()).toEqual(
      [
        'GET /api/openapi.json',
        'GET /api/health',
        'GET /api/status',
        'POST /api/access/preview',
        'POST /api/access/grants',
        'DELETE /api/access/grants',
        'GET /api/audit',
        'GET /api/credentials',
        'POST /api/credentials',
        'POST /api/credentials/{registry}/rotate',
        'DELETE /api/credentials/{registry}',
        'GET /api/credentials/{registry}',
      ].sort(),
    );
  });

  it.each(examples.map((e) => [e.comment, e] as const))('%s', { timeout: 30_000 }, async (_comment, example) => {
    const r = await runBash(`set -euo pipefail\n${setup}\n${example.command}`);
    const statuses = [...r.stderr.matchAll(new RegExp(`^${STATUS_PREFIX}(\\d{3})$`, 'gm'))].map((m) => Number(m[1]));
    const what = `${example.command}\n--- stdout\n${r.stdout.slice(0, 2000)}\n--- stderr\n${r.stderr.slice(0, 2000)}`;
    expect(r.code, what).toBe(0);
    expect(statuses.length, what).toBeGreaterThan(0);
    // Every curl before the last (a token fetched for the next page) must succeed; the last answers the promise.
    for (const status of statuses.slice(0, -1)) expect(status, what).toBeLessThan(400);
    expect(statuses.at(-1), what).toBe(example.status);
    // The status page answers HTML (issue 18); every other route JSON.
    if (/\$BASE\/status\b/.test(example.command)) expect(r.stdout, what).toMatch(/^<!doctype html>/);
    else if (example.status < 400 && example.status !== 204) expect(() => JSON.parse(r.stdout), what).not.toThrow();
    if (example.status >= 400 && example.status !== 401)
      expect(JSON.parse(r.stdout), what).toMatchObject({ status: example.status, code: expect.any(String) });
  });
});
