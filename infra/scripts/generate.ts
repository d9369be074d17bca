/**
 * Writes the lists the Bicep loads with `loadJsonContent` from the code that owns them, so the
 * Event Grid filter and the ABAC condition can't drift from what the app handles and assigns.
 * Run after changing either list: `npx tsx infra/scripts/generate.ts`.
 * `test/unit/infra/infra.test.ts` fails when a generated file is stale.
 */
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { generatedFiles } from './generatedFiles.js';

const generatedDir = fileURLToPath(new URL('../generated/', import.meta.url));
for (const [name, content] of Object.entries(await generatedFiles())) {
  writeFileSync(`${generatedDir}${name}`, content);
  console.log(`wrote infra/generated/${name}`);
}
