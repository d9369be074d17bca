// Runs every vitest project and ends with the one line CI reads: "N passed, N failed".
// vitest's own summary has another form, so the line is derived from its JSON results.
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, existsSync, rmSync } from 'node:fs';

mkdirSync('.local', { recursive: true });
const resultsFile = '.local/test-results.json';
rmSync(resultsFile, { force: true });
const args = ['vitest', 'run', '--reporter=default', '--reporter=json', `--outputFile.json=${resultsFile}`, ...process.argv.slice(2)];
const run = spawnSync('npx', args, { stdio: 'inherit' });

let passed = 0;
let failed = 0;
if (existsSync(resultsFile)) {
  const results = JSON.parse(readFileSync(resultsFile, 'utf8'));
  passed = results.numPassedTests ?? 0;
  // A failed test counts once. A file that failed with no failed test in it (it did not load, or
  // a hook threw) counts once too: its tests never ran. vitest's numFailedTestSuites also counts
  // every describe block around a failed test, so it is not added as it is.
  const filesFailedWithoutATest = (results.testResults ?? []).filter(
    (file) => file.status === 'failed' && !(file.assertionResults ?? []).some((test) => test.status === 'failed'),
  ).length;
  failed = (results.numFailedTests ?? 0) + filesFailedWithoutATest;
} else {
  failed = 1;
}
if (run.status !== 0 && failed === 0) failed = 1; // a crash outside any test still fails the run
console.log(`${passed} passed, ${failed} failed`);
process.exit(run.status === 0 && failed === 0 ? 0 : 1);
