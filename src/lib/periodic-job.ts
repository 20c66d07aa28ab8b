import type { AppContext, BackgroundWork } from './module.js';

/** A scheduling in flight is one enqueue: stop waits for it, but never longer than this. */
const STOP_WAIT_MS = 1000;

/**
 * Periodic work as a singleton job (`enqueueOnce`): every process that runs jobs adds a run at
 * start and every `everyMs`, and however many instances there are, at most one run waits in the
 * queue. `what` names it in the log.
 */
export function periodicJob(ctx: AppContext, job: string, everyMs: number, what: string): BackgroundWork {
  let timer: NodeJS.Timeout | null = null;
  let pending: Promise<unknown> = Promise.resolve();
  const tick = () => {
    pending = ctx.jobs.enqueueOnce(ctx.database.db, job, {}).catch((error: unknown) => {
      ctx.log.error({ err: error }, `${what}: cannot schedule a run; trying again later`);
    });
  };
  return {
    start() {
      if (timer) return;
      tick();
      timer = setInterval(tick, everyMs);
      timer.unref();
    },
    async stop() {
      if (timer) clearInterval(timer);
      timer = null;
      // Never wait on a database that stopped answering (the queue waits for its engine to start).
      let bound: NodeJS.Timeout | undefined;
      await Promise.race([pending, new Promise((resolve) => (bound = setTimeout(resolve, STOP_WAIT_MS)))]);
      clearTimeout(bound);
    },
  };
}
