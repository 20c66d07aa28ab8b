import { JOB_NAME_PATTERN, type JobType } from '../lib/jobs.js';

/** The job types of one queue, by name: each defined once, before it is enqueued or run. */
export class JobRegistry {
  private readonly types = new Map<string, JobType<unknown>>();

  define<P>(type: JobType<P>): void {
    if (!JOB_NAME_PATTERN.test(type.name))
      throw new Error(`job name "${type.name}" must match ${JOB_NAME_PATTERN}`);
    if (this.types.has(type.name)) throw new Error(`job type "${type.name}" is defined twice`);
    if (!Number.isInteger(type.retry.attempts) || type.retry.attempts < 1)
      throw new Error(`job type "${type.name}": attempts must be a whole number of at least 1`);
    this.types.set(type.name, type as JobType<unknown>);
  }

  get(name: string): JobType<unknown> {
    const type = this.types.get(name);
    if (!type) throw new Error(`job type "${name}" is not defined`);
    return type;
  }

  all(): JobType<unknown>[] {
    return [...this.types.values()];
  }
}
