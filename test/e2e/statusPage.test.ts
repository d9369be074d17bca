/**
 * Issue 18.1, "Done when": the status page, loaded in a real browser (Debian's Chromium driven by
 * playwright-core, no browser download) against the local stack after the `npm start` demo, shows
 * the demo's grant and credential, logs no console error, and is saved as a screenshot under
 * test-results/. Issue 18.4: health reports the sweep the admin API fired.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';
import { afterAll, beforeAll, expect, inject, it } from 'vitest';
import { runDemo } from '../../scripts/demo.js';
import { startStack, type RunningStack } from '../../scripts/stack.js';
import { REPO_ROOT } from '../support/hostProcess.js';

/** Debian's package; `.ci/run` installs it when absent. */
const CHROMIUM = '/usr/bin/chromium';
/** The flags this closed network needs: without the background-networking ones Chromium's own connections are refused and slow it down. */
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
export const SCREENSHOT = join(REPO_ROOT, 'test-results', 'status-page.png');

let stack: RunningStack;
let browser: BrowserContext | undefined;
const profile = mkdtempSync(join(tmpdir(), 'acr-pull-chromium-'));
const demo: string[] = [];

beforeAll(async () => {
  stack = await startStack({
    tables: { endpoint: inject('tablesEndpoint'), connectionString: inject('tablesConnectionString') },
    appEntry: inject('appEntry'),
    // Only the admin API fires the sweep here.
    // Tables of its own: the page reads the audit trail, which other tests share Azurite with.
    appSettings: { RECONCILE_SCHEDULE: '0 0 0 1 1 *', TABLE_PREFIX: `status${randomBytes(4).toString('hex')}` },
  });
  await runDemo({ endpoints: stack.endpoints, caPem: stack.emulator!.caPem, print: (line) => demo.push(line) });
}, 120_000);
afterAll(async () => {
  await browser?.close();
  await stack?.stop();
  rmSync(profile, { recursive: true, force: true });
});

it('shows the demo in headless Chromium: the grant, the credential, the denial, with no console error', { timeout: 120_000 }, async () => {
  const { functions, functionKey, masterKey, keyVaultName } = stack.endpoints;
  // A sweep, so the page and health have one to show.
  const fired = await fetch(`${functions}/admin/functions/reconcileSweep`, {
    method: 'POST',
    headers: { 'x-functions-key': masterKey, 'content-type': 'application/json' },
    body: '{"input":""}',
  });
  expect(fired.status).toBe(202);
  await stack.host.waitForLog((l) => l.functionName === 'reconcileSweep' && l.message.includes('reconciliation sweep finished'), 60_000);
  // The record is written after the line; health reads it.
  let health:
    | {
        sweep: { outcome?: string; lastFinishedAt?: string; status: string };
        credentials: { status: string; items: { registryName: string; status: string }[] };
      }
    | undefined;
  for (let i = 0; i < 50 && !health?.sweep.outcome; i++) {
    health = (await (await fetch(`${functions}/api/health`, { headers: { 'x-functions-key': functionKey } })).json()) as typeof health;
    if (!health?.sweep.outcome) await new Promise((r) => setTimeout(r, 100));
  }
  expect(health!.sweep).toMatchObject({ outcome: 'succeeded', status: 'healthy' });
  expect(health!.credentials.items).toEqual(
    expect.arrayContaining([expect.objectContaining({ registryName: 'fabrikamacr', status: 'healthy' })]),
  );

  // A fresh profile directory: playwright-core passes it as --user-data-dir.
  browser = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    args: CHROMIUM_ARGS,
    headless: true,
    extraHTTPHeaders: { 'x-functions-key': functionKey },
    viewport: { width: 1200, height: 900 },
    // The page works without script: prove it.
    javaScriptEnabled: false,
  });
  const page = await browser.newPage();
  const consoleErrors: string[] = [];
  page.on('console', (message) => {
    if (message.type() === 'error') consoleErrors.push(message.text());
  });
  page.on('pageerror', (error) => consoleErrors.push(error.message));

  const response = await page.goto(`${functions}/api/status`, { waitUntil: 'load' });
  expect(response?.status()).toBe(200);
  expect(response?.headers()['content-type']).toMatch(/^text\/html/);
  expect(await page.title()).toMatch(/^acr-pull-automation status: (healthy|degraded)$/);

  // The demo's grant: the automation's AcrPull on fabrikamacr for its pull credential, with why.
  const fabrikam = page.locator('h3', { hasText: 'fabrikamacr' });
  await expect.poll(() => fabrikam.count()).toBe(1);
  const access = page
    .locator('table', { has: page.locator('caption', { hasText: 'Who has access' }) })
    .filter({ hasText: 'pull credentials for fabrikamacr' });
  expect(await access.locator('tr', { hasText: 'AcrPull' }).first().innerText()).toMatch(
    /AcrPull\s+automation\s+pull credentials for fabrikamacr/,
  );
  // The denial the demo shows, with its reason.
  expect(await page.locator('body').innerText()).toContain('registry fabrikamacr has no acr-pull-allow tag and the default is none');
  // The demo's credential, with its vault and expiry.
  const credential = page.locator('#credentials ~ table tr, section:has(#credentials) tr', { hasText: 'fabrikamacr' }).first();
  const row = await credential.innerText();
  expect(row).toContain(`${keyVaultName}: fabrikamacr-pull-usr / fabrikamacr-pull-pwd`);
  expect(row).toMatch(/active\s+\d{4}-\d{2}-\d{2} \d{2}:\d{2} UTC/);
  // The sweep the admin API fired, and the metrics this instance counted.
  expect(await page.locator('tr', { hasText: 'Last reconciliation sweep' }).innerText()).toContain('succeeded');
  expect(await page.locator('tr', { hasText: 'Decisions by outcome' }).innerText()).toMatch(/granted \d+/);

  // The demo's grant on contosoacr to vm-web-1, then its revocation, newest first.
  const contoso = page
    .locator('table', { has: page.locator('caption', { hasText: 'Recent grants and revocations' }) })
    .filter({ hasText: 'contosoacr' });
  const changes = (await contoso.locator('tbody tr').allInnerTexts()).map((t) => t.replace(/\s+/g, ' '));
  expect(changes[0]).toMatch(/vm-web-1 revoked/);
  expect(changes.some((t) => /vm-web-1 granted .*AcrPull/.test(t))).toBe(true);

  mkdirSync(join(REPO_ROOT, 'test-results'), { recursive: true });
  await page.screenshot({ path: SCREENSHOT, fullPage: true });

  // Keyboard: the first Tab reaches the skip link, which leads to the content.
  await page.keyboard.press('Tab');
  expect(await page.locator(':focus').innerText()).toBe('Skip to content');
  expect(consoleErrors).toEqual([]);
});
