/**
 * Vitest global setup: bundles the app once, starts one Azurite (and, once it exists, the Azure
 * emulator) on free ports, and `provide`s their endpoints; tests `inject` them. Teardown stops all.
 *
 * Vitest runs a root config's globalSetup once for the root and once for each project that
 * inherits it, so the shared services live on `globalThis` with a count of users: every project
 * gets the same Azurite, and the last teardown stops it.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { bundle } from '../../scripts/bundle.mjs';
import { startAzurite, type RunningAzurite } from './azurite.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** Azurite's Table Storage connection string (development account). */
    tablesConnectionString: string;
    /** Azurite's table endpoint, `http://127.0.0.1:<port>/devstoreaccount1`. */
    tablesEndpoint: string;
    /** Absolute path of the app bundle built for this run (the local host's APP_ENTRY). */
    appEntry: string;
  }
}

interface SharedServices {
  readonly appEntry: string;
  readonly azurite: RunningAzurite;
  // EMULATOR: readonly emulator: Awaited<ReturnType<typeof startEmulator>>;
  stop(): Promise<void>;
}

const KEY = Symbol.for('acr-pull-automation.globalSetup');
type Holder = { services?: Promise<SharedServices>; users: number };
const holder: Holder = ((globalThis as Record<symbol, unknown>)[KEY] as Holder | undefined) ?? { users: 0 };
(globalThis as Record<symbol, unknown>)[KEY] = holder;

async function startServices(): Promise<SharedServices> {
  // Each run bundles into its own directory, so concurrent runs never read a half-written file.
  const bundleDir = mkdtempSync(join(tmpdir(), 'acr-pull-bundle-'));
  const [appEntry, azurite] = await Promise.all([bundle({ outfile: join(bundleDir, 'index.cjs') }), startAzurite()]);
  // EMULATOR: start it here (`startEmulator()` from emulator/index.ts), stop it below, provide its endpoints.
  return {
    appEntry,
    azurite,
    async stop() {
      await azurite.stop();
      rmSync(bundleDir, { recursive: true, force: true });
    },
  };
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  holder.users += 1;
  holder.services ??= startServices();
  const services = await holder.services;

  project.provide('tablesConnectionString', services.azurite.connectionString);
  project.provide('tablesEndpoint', services.azurite.endpoint);
  project.provide('appEntry', services.appEntry);

  return async () => {
    holder.users -= 1;
    if (holder.users > 0) return;
    holder.services = undefined;
    await services.stop();
  };
}
