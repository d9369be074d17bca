import { defineConfig } from 'vitest/config';

// Three projects: unit (pure modules, no network), integration (one real adapter or SDK client
// against the emulator or Azurite), e2e (the whole path through the local host).
// The global setup bundles the app, starts Azurite and the emulator on free ports and
// `provide`s their endpoints; tests `inject` them.
export default defineConfig({
  test: {
    globalSetup: ['test/support/globalSetup.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
    projects: [
      { extends: true, test: { name: 'unit', include: ['test/unit/**/*.test.ts'] } },
      { extends: true, test: { name: 'integration', include: ['test/integration/**/*.test.ts'] } },
      { extends: true, test: { name: 'e2e', include: ['test/e2e/**/*.test.ts'], testTimeout: 90_000 } },
    ],
  },
});
