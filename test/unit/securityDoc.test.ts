/**
 * docs/security.md is the threat model (issue 13): every tag and setting the code reads, and every
 * HTTP operation, has its row — who can write it in Azure, what the automation does with its own
 * rights because of it, and why that gives no one more than they could do themselves. A name added
 * to the code without a row fails here, and the message lists exactly the names missing.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { APP_ROLES } from '../../src/api/appRoles.js';
import { apiRoutes } from '../../src/api/wiring.js';
import { SETTINGS } from '../../src/config.js';
import { TAG_NAMES } from '../../src/policy/tags.js';
import { WORKLOAD_TAG_NAMES } from '../../src/policy/workloadTags.js';

const DOC = 'docs/security.md';
const doc = readFileSync(DOC, 'utf8');

/** The text of a `## ` section, up to the next one. */
function section(heading: string): string {
  const start = doc.indexOf(`\n## ${heading}\n`);
  if (start < 0) throw new Error(`${DOC} has no "## ${heading}" section`);
  const end = doc.indexOf('\n## ', start + 1);
  return doc.slice(start, end < 0 ? undefined : end);
}

/** Table rows of a section whose first cell is a code span: name → the row's cells. */
function rows(heading: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const line of section(heading).split('\n')) {
    const m = /^\| `([^`]+)` \|(.*)\|\s*$/.exec(line);
    if (m)
      out.set(
        m[1]!,
        m[2]!.split(' | ').map((c) => c.trim()),
      );
  }
  return out;
}

const missing = (names: readonly string[], documented: Map<string, string[]>) => names.filter((n) => !documented.has(n));

describe('docs/security.md', () => {
  it('has a row, with all five columns filled, for every tag the code reads', () => {
    const tags = [...Object.values(TAG_NAMES), ...Object.values(WORKLOAD_TAG_NAMES)];
    const documented = rows('Tags');
    const absent = missing(tags, documented);
    expect(absent, `${DOC} "## Tags" has no row for: ${absent.join(', ')}`).toEqual([]);
    for (const tag of tags) expect(documented.get(tag)!.filter(Boolean), `${DOC} row for ${tag}`).toHaveLength(4);
  });

  it('has a row, with all four columns filled, for every setting in SETTINGS', () => {
    const documented = rows('Settings');
    const absent = missing(
      SETTINGS.map((s) => s.name),
      documented,
    );
    expect(absent, `${DOC} "## Settings" has no row for: ${absent.join(', ')}`).toEqual([]);
    for (const s of SETTINGS) expect(documented.get(s.name)!.filter(Boolean), `${DOC} row for ${s.name}`).toHaveLength(3);
  });

  it('has a row for every HTTP operation, naming the app role the code checks', () => {
    const documented = rows('HTTP API');
    const routes = Object.values(
      apiRoutes({
        deps: () => {
          throw new Error('not called');
        },
        credentials: () => {
          throw new Error('not called');
        },
        health: () => {
          throw new Error('not called');
        },
        status: () => {
          throw new Error('not called');
        },
      }),
    ).flat();
    const operations = routes.flatMap((route) =>
      route.operations.map((op) => ({ name: `${op.method} /api/${route.route}`, role: op.appRole })),
    );
    const absent = missing(
      operations.map((o) => o.name),
      documented,
    );
    expect(absent, `${DOC} "## HTTP API" has no row for: ${absent.join(', ')}`).toEqual([]);
    for (const op of operations) {
      const role = documented.get(op.name)![0]!;
      expect(role, op.name).toBe(op.role === null ? 'none (anonymous)' : `\`${APP_ROLES[op.role].value}\``);
    }
  });

  it('is linked from the README', () => {
    expect(readFileSync('README.md', 'utf8')).toContain('](docs/security.md)');
  });
});
