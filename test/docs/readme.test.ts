import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { EnvSchema } from '../../src/config.js';

/** The repository stands alone: its README and guide send a reader nowhere outside it. */

const ROOT = process.cwd();
const DOCUMENTS = [
  'README.md',
  ...readdirSync('docs')
    .filter((f) => f.endsWith('.md'))
    .map((f) => `docs/${f}`),
];

function links(markdown: string): string[] {
  return [...markdown.matchAll(/\]\(([^)\s]+)\)/g)].map((m) => m[1] ?? '');
}

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces to dashes. */
function anchor(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N} _-]/gu, '')
    .replace(/ /g, '-');
}

describe.each(DOCUMENTS)('%s', (file) => {
  const text = readFileSync(file, 'utf8');

  it('links nothing outside the repository', () => {
    expect(text).not.toContain('../shared');
    for (const link of links(text)) {
      if (/^(https?:|mailto:|#)/.test(link)) continue;
      const target = resolve(dirname(file), link.split('#')[0] ?? '');
      expect(relative(ROOT, target).startsWith('..'), `${file} → ${link}`).toBe(false);
      expect(existsSync(target), `${file} → ${link}`).toBe(true);
    }
  });

  it('links only headings that exist', () => {
    const headings = new Set([...text.matchAll(/^#{1,6} (.+)$/gm)].map((m) => anchor(m[1] ?? '')));
    for (const link of links(text).filter((l) => l.startsWith('#'))) {
      expect(headings.has(link.slice(1)), `${file} → ${link}`).toBe(true);
    }
  });

  it('links the web addresses of this service only', () => {
    for (const link of links(text).filter((l) => /^https?:/.test(l))) {
      expect(new URL(link).host, `${file} → ${link}`).toBe('127.0.0.1:3000');
    }
  });
});

describe('README.md', () => {
  const text = readFileSync('README.md', 'utf8');

  it('links the API guide and the docs the service serves', () => {
    expect(links(text)).toContain('docs/api.md');
    expect(text).toContain('/docs');
    expect(text).toContain('/redoc');
  });

  it('starts with the two commands of the quick start', () => {
    const [, quickStart = ''] = text.split('## Quick start');
    const block = quickStart.split('```')[1] ?? '';
    expect(block).toMatch(/^npm ci && npm start\b/m);
    expect(block).toMatch(/^npm ci && npm test\b/m);
  });

  it('names every variable of the configuration', () => {
    for (const name of Object.keys(EnvSchema.properties)) expect(text, name).toContain(`\`${name}\``);
  });
});
