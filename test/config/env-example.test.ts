import { readFileSync } from 'node:fs';
import { parseEnv } from 'node:util';
import { describe, expect, it } from 'vitest';
import { EnvSchema, loadConfig, NOT_YET_IN_EFFECT } from '../../src/config.js';

describe('.env.example', () => {
  const text = readFileSync('.env.example', 'utf8');

  it('names every variable the service reads, and nothing else', () => {
    const names = [...text.matchAll(/^# ([A-Z0-9_]+)=/gm)].map((m) => m[1]);
    expect([...new Set(names)].sort()).toEqual(Object.keys(EnvSchema.properties).sort());
  });

  it('holds only values the service accepts', () => {
    // Uncommented, the first example of each variable must pass the configuration schema.
    const first = new Map<string, string>();
    for (const line of text.split('\n')) {
      const m = /^# ([A-Z0-9_]+=.*)$/.exec(line);
      if (!m?.[1]) continue;
      const [name = ''] = m[1].split('=');
      if (!first.has(name)) first.set(name, m[1]);
    }
    const env = parseEnv([...first.values()].join('\n'));
    expect(() => loadConfig({ ...env, WEB_CONCURRENCY: '1', NODE_ENV: 'development' })).not.toThrow();
  });
});

describe('.env.example marks the settings that have no effect yet', () => {
  const text = readFileSync('.env.example', 'utf8');

  it('lists each of them after the note that says so, and no other', () => {
    const [before = '', after = ''] = text.split(
      /^# Accepted and checked, but without effect in this version/m,
    );
    expect(after).not.toBe('');
    const names = (part: string) => [...part.matchAll(/^# ([A-Z0-9_]+)=/gm)].map((m) => m[1]);
    expect(new Set(names(after))).toEqual(new Set(Object.keys(NOT_YET_IN_EFFECT)));
    for (const name of Object.keys(NOT_YET_IN_EFFECT)) expect(names(before)).not.toContain(name);
  });
});
