import type { ProjectRole } from '../../src/lib/principal.js';
import { PRIORITIES, type Priority, STATUSES, type Status } from '../../src/modules/tasks/task-fields.js';
import type { Task } from '../../src/modules/tasks/tasks.schemas.js';

/**
 * The seed's data, a pure function of the sizes, a seed number and the base time: row i of a kind is
 * the same on every run, so an interrupted seed continues where it stopped and its ids, parents and
 * members agree with what was committed before. Skewed like real teams: project sizes are Zipf-like
 * (a few big projects, many small), users' memberships too (most users in a few projects, a few in
 * hundreds), assignees and creators are members, older tasks are more often done.
 */

export interface Sizes {
  users: number;
  projects: number;
  tasks: number;
}

/** Every seeded user's password (one hash for all of them). */
export const SEED_PASSWORD = 'seeded users all share this password';

const DAY = 86_400_000;
/** Users join in the first month, projects start in the second, tasks fill the rest of two years. */
export const SPAN_MS = 730 * DAY;
const USERS_SPAN = 30 * DAY;
const PROJECTS_START = 30 * DAY;
const TASKS_START = 60 * DAY;
/** Share of the tasks in their creator's personal project. */
const PERSONAL_SHARE = 0.15;
/** The benchmark's heavy user (user 1): a member of this many projects holding about this many tasks. */
export const HEAVY_PROJECTS = 50;
export const HEAVY_TASKS = 100_000;

/** splitmix32 of (seed, kind, i): an independent stream per row, so a row never depends on another. */
export function rngFor(seed: number, kind: number, i: number): () => number {
  let state = (Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(kind + 1, 0xc2b2ae35) ^ i) >>> 0;
  return () => {
    state = (state + 0x9e3779b9) >>> 0;
    let z = state;
    z = Math.imul(z ^ (z >>> 16), 0x21f0aaad);
    z = Math.imul(z ^ (z >>> 15), 0x735a2d97);
    return ((z ^ (z >>> 15)) >>> 0) / 4_294_967_296;
  };
}

const KIND = { user: 1, inbox: 2, project: 3, members: 4, place: 5, task: 6, taskId: 7, event: 8 } as const;

const hex = (n: number, digits: number) => Math.floor(n).toString(16).padStart(digits, '0');

/** A UUIDv7 (RFC 9562) for a time in ms, its random bits from `rng`. */
export function uuid7(ms: number, rng: () => number): string {
  const t = hex(ms, 12);
  const a = hex(rng() * 0x1000, 3);
  const variant = (8 + Math.floor(rng() * 4)).toString(16);
  const b = hex(rng() * 0x1000, 3);
  const c = hex(rng() * 0x1000000, 6) + hex(rng() * 0x1000000, 6);
  return `${t.slice(0, 8)}-${t.slice(8)}-7${a}-${variant}${b}-${c}`;
}

const iso = (ms: number) => new Date(ms).toISOString();
const pick = <T>(items: readonly T[], r: number): T => items[Math.floor(r * items.length)] as T;

/** Index of the first cumulative weight above r·total (weights as a running sum). */
function draw(cumulative: Float64Array, r: number): number {
  const target = r * (cumulative[cumulative.length - 1] ?? 0);
  let lo = 0;
  let hi = cumulative.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((cumulative[mid] ?? 0) > target) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

function running(weights: number[]): Float64Array {
  const out = new Float64Array(weights.length);
  let sum = 0;
  weights.forEach((w, i) => {
    sum += w;
    out[i] = sum;
  });
  return out;
}

const FIRST = [
  'Ada',
  'Ben',
  'Chloé',
  'Dmitri',
  'Eva',
  'Farid',
  'Grace',
  'Hiro',
  'Ines',
  'João',
  'Kofi',
  'Lena',
];
const LAST = [
  'Nakamura',
  'Okafor',
  'Petrov',
  'Quinn',
  'Rossi',
  'Schmidt',
  'Tanaka',
  'Ueda',
  'Varga',
  'Weber',
];
const AREAS = [
  'Website',
  'Mobile app',
  'Billing',
  'Onboarding',
  'Data platform',
  'Support',
  'Hiring',
  'Office',
];
const PHASES = ['redesign', 'migration', 'launch', 'roadmap', 'clean-up', 'audit', 'Q3 plan', 'pilot'];
const VERBS = ['Fix', 'Write', 'Review', 'Update', 'Plan', 'Test', 'Ship', 'Draft', 'Call', 'Check'];
const OBJECTS = [
  'the login redirect',
  'release notes',
  'the invoice export',
  'onboarding emails',
  'the flaky CI job',
  'pricing page copy',
  'the data retention policy',
  'supplier contract',
  'the search index',
  'Q4 budget',
  'accessibility issues',
  'the status dashboard',
];
const TAGS = [
  'bug',
  'feature',
  'urgent',
  'docs',
  'backend',
  'frontend',
  'design',
  'ops',
  'customer',
  'later',
];
const TAG_WEIGHTS = running(TAGS.map((_, i) => 1 / (i + 1)));
const ROLES: ProjectRole[] = ['editor', 'editor', 'editor', 'commenter', 'viewer', 'viewer'];

export interface SeedUser {
  id: string;
  email: string;
  name: string;
  role: 'admin' | 'user';
  createdAt: string;
  inboxId: string;
}

export interface SeedProject {
  id: string;
  name: string;
  ownerIndex: number;
  createdAt: string;
  /** User indexes with their roles; the owner first. */
  members: [number, ProjectRole][];
}

/** What the seed writes for one task: the API shape (its row is derived like the service derives it). */
export type SeedTask = Task;

export class SeedModel {
  readonly users: SeedUser[];
  readonly projects: SeedProject[];
  /** Per task: its shared project's index, or −1 − user index for the user's personal project. */
  private readonly placeOf: Int32Array;
  /** Per task: the index of its parent task, or −1. */
  private readonly parentOf: Int32Array;
  /** Per shared project: members that may create tasks (owner, editors) and everyone (assignees). */
  private readonly writers: number[][];

  constructor(
    readonly sizes: Sizes,
    readonly seed: number,
    /** When the seeded history starts (ms); it ends SPAN_MS later. */
    readonly base: number,
  ) {
    const { users, projects, tasks } = sizes;
    // Most users in a few projects, a few in hundreds; user 1 (the heavy one) is placed by hand.
    const userWeights = Array.from({ length: users }, (_, u) => (u === 1 && users > 2 ? 0 : 1 / (u + 50)));
    const userDraw = running(userWeights);
    this.users = Array.from({ length: users }, (_, u) => this.user(u));

    // A project's share of the shared tasks: Zipf-like by a shuffled rank, so size is not age.
    const rank = Array.from({ length: projects }, (_, p) => p);
    const shuffle = rngFor(seed, KIND.project, -1);
    for (let i = rank.length - 1; i > 0; i -= 1) {
      const j = Math.floor(shuffle() * (i + 1));
      [rank[i], rank[j]] = [rank[j] as number, rank[i] as number];
    }
    const weights = rank.map((r) => 1 / (r + 1) ** 0.9);
    const projectDraw = running(weights);
    const biggest = Math.max(...weights, 0);
    this.projects = Array.from({ length: projects }, (_, p) =>
      this.project(p, (weights[p] ?? 0) / biggest, userDraw),
    );
    this.placeHeavyUser(weights);
    this.writers = this.projects.map((project) =>
      project.members.filter(([, role]) => role === 'owner' || role === 'editor').map(([u]) => u),
    );

    this.placeOf = new Int32Array(tasks);
    this.parentOf = new Int32Array(tasks).fill(-1);
    const lastTop = new Int32Array(projects).fill(-1);
    for (let i = 0; i < tasks; i += 1) {
      const r = rngFor(seed, KIND.place, i);
      if (projects === 0 || r() < PERSONAL_SHARE) {
        this.placeOf[i] = -1 - draw(userDraw, r());
        continue;
      }
      const p = draw(projectDraw, r());
      this.placeOf[i] = p;
      // Some tasks are subtasks of their project's latest top-level task.
      const parent = lastTop[p] ?? -1;
      if (parent >= 0 && r() < 0.12) this.parentOf[i] = parent;
      else lastTop[p] = i;
    }
  }

  private user(u: number): SeedUser {
    const r = rngFor(this.seed, KIND.user, u);
    const ms = this.base + Math.floor((u * USERS_SPAN) / Math.max(1, this.sizes.users));
    const name = `${pick(FIRST, r())} ${pick(LAST, r())}`;
    return {
      id: uuid7(ms, r),
      email: `${u === 0 ? 'admin' : `user-${u}`}@seed.invalid`,
      name: u === 0 ? 'Seed Admin' : name,
      role: u === 0 ? 'admin' : 'user',
      createdAt: iso(ms),
      inboxId: uuid7(ms, rngFor(this.seed, KIND.inbox, u)),
    };
  }

  private project(p: number, relativeSize: number, userDraw: Float64Array): SeedProject {
    const r = rngFor(this.seed, KIND.project, p);
    const ms =
      this.base + PROJECTS_START + Math.floor((p * (TASKS_START - PROJECTS_START)) / this.sizes.projects);
    const { users } = this.sizes;
    // Big projects have big teams (up to ~60), small ones 2–5.
    const wanted = Math.min(users, Math.round(2 + 55 * relativeSize ** 0.7 + r() * 3));
    const chosen = new Set<number>();
    const drawable = users > 2 ? users - 1 : users;
    for (let tries = 0; chosen.size < Math.min(wanted, drawable) && tries < wanted * 20; tries += 1) {
      chosen.add(draw(userDraw, r()));
    }
    const [owner = 0, ...rest] = [...chosen];
    return {
      id: uuid7(ms, r),
      name: `${pick(AREAS, r())} ${pick(PHASES, r())} ${p + 1}`,
      ownerIndex: owner,
      createdAt: iso(ms),
      members: [[owner, 'owner'], ...rest.map((u): [number, ProjectRole] => [u, pick(ROLES, r())])],
    };
  }

  /**
   * User 1 leads HEAVY_PROJECTS projects that together hold about HEAVY_TASKS tasks (or a tenth of
   * them at small sizes): the benchmark's "one user with 100,000 tasks across 50 projects".
   */
  private placeHeavyUser(weights: number[]): void {
    if (this.sizes.users < 3 || this.projects.length === 0) return;
    const total = weights.reduce((a, b) => a + b, 0);
    const shared = this.sizes.tasks * (1 - PERSONAL_SHARE);
    const target = Math.min(HEAVY_TASKS, this.sizes.tasks / 10);
    const bySize = weights
      .map((w, p) => ({ p, tasks: (shared * w) / total }))
      .sort((a, b) => b.tasks - a.tasks);
    const count = Math.min(HEAVY_PROJECTS, bySize.length);
    // The window of `count` consecutive sizes whose sum comes closest to the target.
    let start = 0;
    let best = Number.POSITIVE_INFINITY;
    for (let s = 0; s + count <= bySize.length; s += 1) {
      let sum = 0;
      for (let k = s; k < s + count; k += 1) sum += bySize[k]?.tasks ?? 0;
      if (Math.abs(sum - target) < best) [best, start] = [Math.abs(sum - target), s];
      if (sum < target) break;
    }
    for (const { p } of bySize.slice(start, start + count)) this.projects[p]?.members.push([1, 'editor']);
  }

  taskId(i: number): string {
    return uuid7(this.taskMs(i), rngFor(this.seed, KIND.taskId, i));
  }

  private taskMs(i: number): number {
    return (
      this.base + TASKS_START + Math.floor((i * (SPAN_MS - TASKS_START)) / Math.max(1, this.sizes.tasks))
    );
  }

  get end(): number {
    return this.base + SPAN_MS;
  }

  task(i: number): SeedTask {
    const r = rngFor(this.seed, KIND.task, i);
    const created = this.taskMs(i);
    const place = this.placeOf[i] ?? -1;
    const personal = place < 0;
    const project = personal ? null : this.projects[place];
    const inboxOwner = personal ? this.users[-1 - place] : null;
    const writers = project ? (this.writers[place] ?? []) : [];
    const ownerIndex = project ? (writers.length ? pick(writers, r()) : project.ownerIndex) : -1 - place;
    let assignee: string | null = null;
    if (project && r() < 0.7) assignee = this.users[pick(project.members, r())[0]]?.id ?? null;
    if (inboxOwner && r() < 0.5) assignee = inboxOwner.id;
    // Older tasks are more often done.
    const age = 1 - i / Math.max(1, this.sizes.tasks);
    const status: Status =
      r() < 0.15 + 0.7 * age ? 'done' : r() < 0.35 ? 'in_progress' : (STATUSES[0] as Status);
    const pr = r();
    const priority: Priority = (
      pr < 0.3 ? PRIORITIES[0] : pr < 0.8 ? PRIORITIES[1] : PRIORITIES[2]
    ) as Priority;
    const hour = 3_600_000;
    const dueAt = r() < 0.65 ? iso(Math.round((created + (r() * 62 - 2) * DAY) / hour) * hour) : null;
    const startAt = r() < 0.2 ? iso(created + Math.floor(r() * 5 * DAY)) : null;
    const tags = new Set<string>();
    for (let n = Math.floor(r() * r() * 4); n > 0; n -= 1) tags.add(TAGS[draw(TAG_WEIGHTS, r())] as string);
    const completed = status === 'done' ? Math.min(this.end, created + Math.floor(r() * 30 * DAY)) : null;
    const updated = completed ?? Math.min(this.end, created + Math.floor(r() * r() * 3 * DAY));
    const parent = this.parentOf[i] ?? -1;
    return {
      id: this.taskId(i),
      ownerId: this.users[ownerIndex]?.id ?? null,
      projectId: project ? project.id : (inboxOwner?.inboxId ?? ''),
      parentId: parent >= 0 ? this.taskId(parent) : null,
      assigneeId: assignee,
      title: `${pick(VERBS, r())} ${pick(OBJECTS, r())}`,
      description: r() < 0.5 ? '' : `Seeded task ${i + 1}: see the thread for details.`,
      status,
      priority,
      startAt,
      dueAt,
      tags: [...tags],
      completedAt: completed === null ? null : iso(completed),
      version: 1,
      createdAt: iso(created),
      updatedAt: iso(updated),
    };
  }

  /** The events seed: event e of the log describes task e mod tasks (created first, then updates). */
  eventAt(e: number, count: number): { task: SeedTask; type: 'task.created' | 'task.updated'; at: string } {
    const task = this.task(e % this.sizes.tasks);
    // In the last 20 days (well inside the default 30-day retention), in position order.
    const at = iso(this.end - 20 * DAY + Math.floor((e * 20 * DAY) / Math.max(1, count)));
    return { task, type: e < this.sizes.tasks ? 'task.created' : 'task.updated', at };
  }
}
