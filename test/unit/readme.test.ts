import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, normalize } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SETTINGS } from '../../src/config.js';
import { TAG_NAMES } from '../../src/policy/tags.js';
import { WORKLOAD_TAG_NAMES } from '../../src/policy/workloadTags.js';

// The README and the guides in docs/ are the user's reference: they must tell the truth about what the code reads.
const readme = readFileSync('README.md', 'utf8');
/** The full tag policy reference; the README keeps a summary that links to it (issue 17). */
const TAG_REFERENCE = 'docs/tags.md';
const tagReference = readFileSync(TAG_REFERENCE, 'utf8');
const ALL_TAGS = [...Object.values(TAG_NAMES), ...Object.values(WORKLOAD_TAG_NAMES)];

describe('README', () => {
  it('has a Quickstart of exactly the two commands', () => {
    const quickstart = /## Quickstart\n\n```sh\n([\s\S]*?)```/.exec(readme)?.[1];
    expect(quickstart).toBe('npm install && npm start\nnpm test\n');
  });

  // Issue 17: the README is what a newcomer needs; the guides are pages of their own in docs/.
  it('stays under 400 lines', () => {
    expect(readme.split('\n').length).toBeLessThan(400);
  });

  it.each(SETTINGS.map((s) => [s.name, s]))('lists the setting %s with its default', (_name, setting) => {
    const row = readme.split('\n').find((line) => line.startsWith(`| \`${setting.name}\` |`));
    expect(row).toBeDefined();
    if (setting.required) expect(row).toContain('**required**');
    else if (setting.default !== undefined) expect(row).toContain(`\`${setting.default}\``);
  });

  it.each(ALL_TAGS)(`documents the tag %s in the tag policy reference (${TAG_REFERENCE})`, (tag) => {
    expect(tagReference).toContain(`\`${tag}\``);
  });

  it.each(ALL_TAGS)("names the tag %s in the README's tag summary", (tag) => {
    const summary = readme.slice(readme.indexOf('\n## Tag policy reference\n'), readme.indexOf('\n## Settings\n'));
    const rows = summary.split('\n').filter((line) => line.startsWith('| `'));
    expect(rows.some((row) => row.split(' | ')[0]!.includes(`\`${tag}\``))).toBe(true);
  });

  it('lists no setting the code does not read', () => {
    const settingsSection = readme.slice(readme.indexOf('\n## Settings\n'), readme.indexOf('\n## Local development\n'));
    const names = [...settingsSection.matchAll(/^\| `([A-Za-z_]+)` \|/gm)].map((m) => m[1]);
    expect(names.sort()).toEqual(SETTINGS.map((s) => s.name).sort());
  });
});

const slug = (heading: string) =>
  heading
    .trim()
    .toLowerCase()
    .replace(/[^a-z0-9 -]/g, '')
    .replace(/ /g, '-');
const anchorsOf = (text: string) =>
  new Set([...text.replace(/^```[\s\S]*?^```$/gm, '').matchAll(/^#{1,6} (.+)$/gm)].map((m) => slug(m[1]!)));
const DOCS = [
  'README.md',
  ...readdirSync('docs')
    .filter((f) => f.endsWith('.md'))
    .map((f) => join('docs', f)),
];

describe('README and docs/ links', () => {
  it.each(DOCS)('%s points at sections that exist, and at files that exist', (file) => {
    const text = readFileSync(file, 'utf8');
    const broken: string[] = [];
    for (const [, target] of text.matchAll(/\]\(([^)\s]+)\)/g)) {
      if (target!.startsWith('http')) continue;
      const [path, anchor] = target!.split('#') as [string, string | undefined];
      const resolved = path === '' ? file : normalize(join(dirname(file), path));
      if (!existsSync(resolved)) {
        broken.push(target!);
        continue;
      }
      if (anchor !== undefined && resolved.endsWith('.md') && !anchorsOf(readFileSync(resolved, 'utf8')).has(anchor)) broken.push(target!);
    }
    expect(broken).toEqual([]);
  });

  it('links every page in docs/ from the README', () => {
    const unlinked = DOCS.filter((f) => f !== 'README.md' && !readme.includes(`](${f})`));
    expect(unlinked).toEqual([]);
  });
});
