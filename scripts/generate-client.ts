import { mkdirSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { GENERATED_DIR, generateClientTypes } from './client-types.js';

/** `npm run generate:client`: writes the typed client's generated types (see client-types.ts). */
mkdirSync(GENERATED_DIR, { recursive: true });
for (const [name, contents] of await generateClientTypes()) {
  const file = join(GENERATED_DIR, name);
  writeFileSync(file, contents);
  console.log(`wrote ${relative(process.cwd(), file)}`);
}
