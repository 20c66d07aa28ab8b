/** Options every versioned route plugin receives. */
export interface VersionOptions {
  version: 'v1' | 'v2';
}
