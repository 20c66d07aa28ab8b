import { availableParallelism } from 'node:os';
import { hash, verify } from '@node-rs/argon2';
import { ApiError } from '../errors.js';

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

/**
 * How many hashes (and verifications) run at once, and how many may wait for a turn. libuv's pool
 * runs 4 at once, and on 2 cores those take both and starve the event loop: every other request
 * slows down. Below the core count, one core is left to the event loop; past the queue, a request
 * is refused at once (503 overloaded) instead of waiting behind the others.
 */
export interface HashLimits {
  concurrency: number;
  queue: number;
}

/**
 * A core for the event loop, the rest for hashing, shared by the worker processes
 * (WEB_CONCURRENCY) that each hash on their own; a queue of 16 turns per hashing core.
 */
export function defaultHashLimits(cores: number = availableParallelism(), processes = 1): HashLimits {
  const concurrency = Math.max(1, Math.floor((cores - 1) / processes));
  return { concurrency, queue: 16 * concurrency };
}

/** Seconds a refused client is told to wait: the queue drains in well under one. */
export const HASH_RETRY_AFTER_SECONDS = 1;

/** The argon2 functions the hasher calls (tests wrap them to count what runs at once). */
export interface Argon2 {
  hash: typeof hash;
  verify: typeof verify;
}

/**
 * The admission of hashes: at most `concurrency` run, at most `queue` wait (first come, first
 * served), and the rest are refused before any work. The refusal names no account, so it is the
 * same whatever the email (a dummy verification goes through the same gate).
 */
class HashGate {
  private running = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(private readonly limits: HashLimits) {
    if (!(limits.concurrency >= 1 && limits.queue >= 0))
      throw new Error('hash limits: concurrency ≥ 1, queue ≥ 0');
  }

  get inFlight(): number {
    return this.running;
  }

  get queued(): number {
    return this.waiting.length;
  }

  async run<T>(work: () => Promise<T>): Promise<T> {
    if (this.running < this.limits.concurrency) {
      this.running += 1;
    } else if (this.waiting.length < this.limits.queue) {
      // The finishing hash hands its turn over, so `running` stays as it is.
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    } else {
      throw new ApiError('overloaded', {
        detail: 'Too many password checks are running; retry shortly',
        headers: { 'retry-after': String(HASH_RETRY_AFTER_SECONDS) },
      });
    }
    try {
      return await work();
    } finally {
      const next = this.waiting.shift();
      if (next) next();
      else this.running -= 1;
    }
  }
}

export interface HasherOptions {
  limits?: HashLimits;
  argon2?: Argon2;
}

export class PasswordHasher {
  private dummy: string | null = null;
  private readonly gate: HashGate;
  private readonly argon2: Argon2;
  readonly limits: HashLimits;

  constructor(
    private readonly cost: HashCost = DEFAULT_HASH_COST,
    options: HasherOptions = {},
  ) {
    this.limits = options.limits ?? defaultHashLimits();
    this.gate = new HashGate(this.limits);
    this.argon2 = options.argon2 ?? { hash, verify };
  }

  /** Hashes running now, and waiting for a turn (for tests and, later, metrics). */
  get load(): { inFlight: number; queued: number } {
    return { inFlight: this.gate.inFlight, queued: this.gate.queued };
  }

  /** Throws ApiError `overloaded` (503, Retry-After) when the queue is full. */
  hash(password: string): Promise<string> {
    return this.gate.run(() =>
      this.argon2.hash(password.normalize('NFC'), { algorithm: ARGON2ID, parallelism: 1, ...this.cost }),
    );
  }

  /** False for a wrong password or a malformed hash; throws `overloaded` like `hash`. */
  verify(stored: string, password: string): Promise<boolean> {
    return this.gate.run(async () => {
      try {
        return await this.argon2.verify(stored, password.normalize('NFC'));
      } catch {
        return false;
      }
    });
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
   * for a wrong password and timing does not reveal whether the account exists. It waits its turn
   * and is refused like any verification, so a 503 says nothing about the account either.
   */
  async verifyDummy(password: string): Promise<false> {
    // Only a hasher used outside the app (which prepares it at start-up) makes it here.
    await this.verify(this.dummy ?? (await this.prepare()), password);
    return false;
  }
}
