/**
 * A progress report on stderr: on a terminal one line rewritten in place (at most 10 times a second);
 * otherwise (a log, CI) a plain line every 5 seconds. Rate and time left count only this run's rows.
 */
export class Progress {
  private readonly started = Date.now();
  private readonly from: number;
  private last = Date.now();

  constructor(
    private readonly label: string,
    private readonly total: number,
    private done: number,
    private readonly out: NodeJS.WriteStream = process.stderr,
  ) {
    this.from = done;
  }

  add(rows: number): void {
    this.done += rows;
    const now = Date.now();
    if (now - this.last < (this.out.isTTY ? 100 : 5000)) return;
    this.last = now;
    this.write(false);
  }

  finish(): void {
    this.write(true);
  }

  /** Rows per second so far in this run. */
  get rate(): number {
    return (this.done - this.from) / Math.max(0.001, (Date.now() - this.started) / 1000);
  }

  private write(final: boolean): void {
    const share = this.total === 0 ? 1 : this.done / this.total;
    const rate = this.rate;
    const left = rate > 0 ? (this.total - this.done) / rate : Number.POSITIVE_INFINITY;
    const count = `${this.done.toLocaleString('en')}/${this.total.toLocaleString('en')}`;
    const timing = final ? `in ${duration((Date.now() - this.started) / 1000)}` : `${duration(left)} left`;
    const text = `${this.label.padEnd(8)} ${count} ${(share * 100).toFixed(0).padStart(3)}% ${Math.round(rate).toLocaleString('en')}/s ${timing}`;
    if (this.out.isTTY) {
      const width = 20;
      const filled = Math.round(share * width);
      const bar = `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}]`;
      this.out.write(`\r\x1b[K${bar} ${text}${final ? '\n' : ''}`);
    } else {
      this.out.write(`${text}\n`);
    }
  }
}

export function duration(seconds: number): string {
  if (!Number.isFinite(seconds)) return '?';
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}
