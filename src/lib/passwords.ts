import { hash, verify } from '@node-rs/argon2';

// @node-rs/argon2's Algorithm is an ambient const enum; 2 is its Argon2id.
const ARGON2ID = 2;

/**
 * Password hashing with argon2id, off the event loop (@node-rs/argon2 runs on libuv's pool).
 * The parameters are OWASP's minimum for argon2id (19 MiB, 2 passes); tests pass cheaper ones.
 */
export interface HashCost {
  memoryCost: number;
  timeCost: number;
}

export const DEFAULT_HASH_COST: HashCost = { memoryCost: 19_456, timeCost: 2 };

export class PasswordHasher {
  private dummy: string | null = null;

  constructor(private readonly cost: HashCost = DEFAULT_HASH_COST) {}

  hash(password: string): Promise<string> {
    return hash(password.normalize('NFC'), { algorithm: ARGON2ID, parallelism: 1, ...this.cost });
  }

  async verify(stored: string, password: string): Promise<boolean> {
    try {
      return await verify(stored, password.normalize('NFC'));
    } catch {
      return false;
    }
  }

  /**
   * Makes the dummy hash; the app awaits it at start-up. Made lazily, the first unknown email would
   * cost a hash and a verification, twice a wrong password's time: an oracle for existing accounts.
   */
  async prepare(): Promise<string> {
    this.dummy ??= await this.hash('dummy password that never matches anything');
    return this.dummy;
  }

  /**
   * For an unknown email: verify against a hash of the same cost, so the reply takes as long as
   * for a wrong password and timing does not reveal whether the account exists.
   */
  async verifyDummy(password: string): Promise<false> {
    // Only a hasher used outside the app (which prepares it at start-up) makes it here.
    await this.verify(this.dummy ?? (await this.prepare()), password);
    return false;
  }
}
