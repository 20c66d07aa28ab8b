import { randomUUID } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { FastifyBaseLogger } from 'fastify';
import { createTransport, type Transporter } from 'nodemailer';

/** One plain-text mail. */
export interface Mail {
  to: string;
  subject: string;
  text: string;
}

/**
 * Where mail goes: SMTP_URL through nodemailer, or, without it, a file per mail in the data
 * folder's `outbox/`. Mails hold secrets (a reset link): the log names only the recipient (and
 * the file), never the body.
 */
export interface Mailer {
  /** Resolves once the server accepted the mail (or the file is written); rejects otherwise. */
  send(mail: Mail): Promise<void>;
  close(): void;
}

/** How long an SMTP exchange may take before the attempt fails (and its job retries). */
const SMTP_TIMEOUT_MS = 30_000;

export class SmtpMailer implements Mailer {
  private readonly transport: Transporter;

  constructor(
    url: string,
    private readonly from: string,
    private readonly log: FastifyBaseLogger,
    timeoutMs = SMTP_TIMEOUT_MS,
  ) {
    this.transport = createTransport({
      url,
      connectionTimeout: timeoutMs,
      greetingTimeout: timeoutMs,
      socketTimeout: timeoutMs,
    });
  }

  async send(mail: Mail): Promise<void> {
    await this.transport.sendMail({ from: this.from, to: mail.to, subject: mail.subject, text: mail.text });
    this.log.info({ to: mail.to }, 'mail sent');
  }

  close(): void {
    this.transport.close();
  }
}

/** Without SMTP_URL: each mail becomes an RFC 5322 file in `<dataDir>/outbox/`, readable by its owner only. */
export class OutboxMailer implements Mailer {
  readonly folder: string;

  constructor(
    dataDir: string,
    private readonly log: FastifyBaseLogger,
  ) {
    this.folder = join(dataDir, 'outbox');
  }

  async send(mail: Mail): Promise<void> {
    mkdirSync(this.folder, { recursive: true, mode: 0o700 });
    const name = `${new Date().toISOString().replace(/[:.]/g, '-')}-${randomUUID()}.eml`;
    const file = join(this.folder, name);
    const message = [
      `To: ${mail.to}`,
      `Subject: ${mail.subject}`,
      `Date: ${new Date().toUTCString()}`,
      'Content-Type: text/plain; charset=utf-8',
      '',
      mail.text,
    ].join('\r\n');
    writeFileSync(file, message, { mode: 0o600, flag: 'wx' });
    this.log.info({ to: mail.to, file }, 'mail written to the outbox (no SMTP_URL)');
  }

  close(): void {}
}

export function createMailer(
  smtp: { url: string; from: string } | null,
  dataDir: string,
  log: FastifyBaseLogger,
): Mailer {
  return smtp ? new SmtpMailer(smtp.url, smtp.from, log) : new OutboxMailer(dataDir, log);
}
