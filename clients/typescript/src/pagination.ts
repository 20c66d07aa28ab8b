/** Async iterators over the API's two kinds of lists, and over the change feed. */

export interface Page<T> {
  items: T[];
  page: number;
  pages: number;
}

export interface CursorPage<T> {
  items: T[];
  nextCursor: string | null;
}

/** Every item of a version-1 list, page after page (`fetchPage(n)` reads page n). */
export async function* pageItems<T>(fetchPage: (page: number) => Promise<Page<T>>): AsyncGenerator<T> {
  for (let page = 1; ; page += 1) {
    const reply = await fetchPage(page);
    yield* reply.items;
    if (reply.items.length === 0 || page >= reply.pages) return;
  }
}

/** Every item of a version-2 list, following `nextCursor` until it is null. */
export async function* cursorItems<T>(
  fetchPage: (cursor: string | undefined) => Promise<CursorPage<T>>,
): AsyncGenerator<T> {
  let cursor: string | undefined;
  do {
    const reply = await fetchPage(cursor);
    yield* reply.items;
    cursor = reply.nextCursor ?? undefined;
  } while (cursor !== undefined);
}

export interface FeedPage<T> {
  items: T[];
  next: string;
  hasMore: boolean;
}

/**
 * The change feed from `position` on (GET /events?after=): iterating yields every event up to
 * the head, oldest first. `position` is the id to resume from (keep it; a later `feed` with it
 * receives each later event once), and it advances past pages with no visible events too.
 */
export class EventFeed<T extends { id: string }> implements AsyncIterable<T> {
  constructor(
    private readonly fetchPage: (after: string | undefined) => Promise<FeedPage<T>>,
    public position: string | undefined,
  ) {}

  async *[Symbol.asyncIterator](): AsyncGenerator<T> {
    for (;;) {
      const reply = await this.fetchPage(this.position);
      for (const event of reply.items) {
        // A consumer that stops halfway resumes after the last event it took.
        this.position = event.id;
        yield event;
      }
      this.position = reply.next;
      if (!reply.hasMore) return;
    }
  }
}
