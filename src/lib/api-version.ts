/** Options every versioned route plugin receives. */
export interface VersionOptions {
  version: 'v1' | 'v2';
}

/** operationIds must be unique across the versions sharing one document. */
export function operationId(name: string, version: VersionOptions['version']): string {
  return version === 'v1' ? name : `${name}V2`;
}
