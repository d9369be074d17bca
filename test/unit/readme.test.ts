import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { SETTINGS } from '../../src/config.js';
import { TAG_NAMES } from '../../src/policy/tags.js';
import { WORKLOAD_TAG_NAMES } from '../../src/policy/workloadTags.js';

// The README is the user's reference: it must tell the truth about what the code reads.
const readme = readFileSync('README.md', 'utf8');

describe('README', () => {
  it('has a Quickstart of exactly the two commands', () => {
    const quickstart = /## Quickstart\n\n```sh\n([\s\S]*?)```/.exec(readme)?.[1];
    expect(quickstart).toBe('npm install && npm start\nnpm test\n');
  });

  it.each(SETTINGS.map((s) => [s.name, s]))('lists the setting %s with its default', (_name, setting) => {
    const row = readme.split('\n').find((line) => line.startsWith(`| \`${setting.name}\` |`));
    expect(row).toBeDefined();
    if (setting.required) expect(row).toContain('**required**');
    else if (setting.default !== undefined) expect(row).toContain(`\`${setting.default}\``);
  });

  it.each([...Object.values(TAG_NAMES), ...Object.values(WORKLOAD_TAG_NAMES)])('documents the tag %s in the tag policy reference', (tag) => {
    expect(readme).toContain(`\`${tag}\``);
  });

  it('lists no setting the code does not read', () => {
    const settingsSection = readme.slice(readme.indexOf('\n## Settings\n'), readme.indexOf('\n## Local development\n'));
    const names = [...settingsSection.matchAll(/^\| `([A-Za-z_]+)` \|/gm)].map((m) => m[1]);
    expect(names.sort()).toEqual(SETTINGS.map((s) => s.name).sort());
  });
});

describe('README links', () => {
  const slug = (heading: string) => heading.trim().toLowerCase().replace(/[^a-z0-9 -]/g, '').replace(/ /g, '-');
  const anchors = new Set([...readme.matchAll(/^#{1,6} (.+)$/gm)].map((m) => slug(m[1]!)));

  it('point at sections that exist, and at files that exist', async () => {
    const { existsSync } = await import('node:fs');
    const broken: string[] = [];
    for (const [, target] of readme.matchAll(/\]\(([^)\s]+)\)/g)) {
      if (target!.startsWith('http')) continue;
      if (target!.startsWith('#')) {
        if (!anchors.has(target!.slice(1))) broken.push(target!);
      } else if (!existsSync(target!.split('#')[0]!)) broken.push(target!);
    }
    expect(broken).toEqual([]);
  });
});
