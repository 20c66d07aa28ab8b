import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { GENERATE_COMMAND, GENERATED_DIR, generateClientTypes } from '../../scripts/client-types.js';

/** The committed client types are what the service's documents make now (CI fails on stale ones). */
describe('clients/typescript/src/generated', () => {
  it('matches the OpenAPI documents the app serves', async () => {
    const files = await generateClientTypes();
    expect([...files.keys()].sort()).toEqual(['v1.ts', 'v2.ts']);
    const stale: string[] = [];
    for (const [name, contents] of files) {
      let committed = '';
      try {
        committed = readFileSync(join(GENERATED_DIR, name), 'utf8');
      } catch {
        // Missing counts as stale.
      }
      if (committed !== contents) stale.push(name);
    }
    expect(stale, `stale generated client types (${stale.join(', ')}): run \`${GENERATE_COMMAND}\``).toEqual(
      [],
    );
  });
});
