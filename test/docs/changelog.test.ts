import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { localOpenApiDocument } from '../../scripts/openapi-document.js';

/** CHANGELOG.md keeps the Keep a Changelog 1.1.0 form, and its latest release is the service's version. */

const text = readFileSync(join(process.cwd(), 'CHANGELOG.md'), 'utf8');
const lines = text.split('\n');
const packageVersion = (
  JSON.parse(readFileSync(join(process.cwd(), 'package.json'), 'utf8')) as { version: string }
).version;
const SECTIONS = ['Added', 'Changed', 'Deprecated', 'Removed', 'Fixed', 'Security'];
const RELEASE = /^## \[(\d+)\.(\d+)\.(\d+)\] - (\d{4}-\d{2}-\d{2})$/;

function releases() {
  return lines.flatMap((line) => {
    const m = RELEASE.exec(line);
    return m ? [{ version: m.slice(1, 4).map(Number), name: m.slice(1, 4).join('.'), date: m[4] ?? '' }] : [];
  });
}

describe('CHANGELOG.md', () => {
  it('has a title, Unreleased first, then releases newest first with real ISO dates', () => {
    expect(lines[0]).toBe('# Changelog');
    const versionHeadings = lines.filter((l) => l.startsWith('## '));
    expect(versionHeadings[0]).toBe('## [Unreleased]');
    // Every other second-level heading is a release.
    expect(versionHeadings.slice(1).every((h) => RELEASE.test(h))).toBe(true);
    const all = releases();
    expect(all.length).toBe(versionHeadings.length - 1);
    for (const { date } of all) expect(new Date(`${date}T00:00:00Z`).toISOString().slice(0, 10)).toBe(date);
    for (let i = 1; i < all.length; i += 1) {
      const [newer, older] = [all[i - 1], all[i]];
      const cmp =
        (newer?.version ?? []).map((n, k) => n - (older?.version[k] ?? 0)).find((d) => d !== 0) ?? 0;
      expect(cmp, `${newer?.name} after ${older?.name}`).toBeGreaterThan(0);
      expect((newer?.date ?? '') >= (older?.date ?? ''), `${newer?.name}'s date`).toBe(true);
    }
  });

  it('groups each version in Added, Changed, Deprecated, Removed, Fixed and Security, each with entries', () => {
    let section: string | null = null;
    let entries = 0;
    const close = () => {
      if (section !== null) expect(entries, section).toBeGreaterThan(0);
    };
    for (const line of lines.slice(1)) {
      if (line.startsWith('## ')) {
        close();
        section = null;
      } else if (line.startsWith('### ')) {
        close();
        section = line;
        entries = 0;
        expect(SECTIONS.map((s) => `### ${s}`)).toContain(line);
      } else if (line.startsWith('- ')) {
        expect(section, `an entry outside a section: ${line}`).not.toBeNull();
        entries += 1;
      } else if (line.startsWith('#')) expect.fail(`a heading the format does not have: ${line}`);
    }
    close();
  });

  it("the latest release is package.json's version and the OpenAPI document's info.version", async () => {
    const latest = releases()[0]?.name;
    expect(latest).toBe(packageVersion);
    expect((await localOpenApiDocument()).info.version).toBe(packageVersion);
  });
});
