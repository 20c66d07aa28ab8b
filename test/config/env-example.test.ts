import { readFileSync } from 'node:fs';
import { parseEnv } from 'node:util';
import { describe, expect, it } from 'vitest';
import { EnvSchema, loadConfig } from '../../src/config.js';

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
