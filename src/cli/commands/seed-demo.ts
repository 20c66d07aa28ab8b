import type { AppContext } from '../../lib/module.js';
import type { Principal, Role } from '../../lib/principal.js';
import type { Command } from '../command.js';
import { withContext } from '../context.js';
import { CliError, type CliIo, UsageError } from '../io.js';

/** The demo accounts, with passwords documented in the README and printed at the end. */
export const DEMO_USERS = [
  {
    key: 'admin',
    email: 'admin@demo.example.com',
    name: 'Demo Admin',
    role: 'admin',
    password: 'orange kite harbour',
  },
  {
    key: 'ada',
    email: 'ada@demo.example.com',
    name: 'Ada Lovelace',
    role: 'user',
    password: 'violet canyon river',
  },
  {
    key: 'grace',
    email: 'grace@demo.example.com',
    name: 'Grace Hopper',
    role: 'user',
    password: 'silver meadow lantern',
  },
] as const satisfies readonly { key: string; email: string; name: string; role: Role; password: string }[];

type DemoKey = (typeof DEMO_USERS)[number]['key'];
type Status = 'todo' | 'in_progress' | 'done';
type Priority = 'low' | 'medium' | 'high';

interface DemoTask {
  title: string;
  by: DemoKey;
  /** A project's name, or null for the author's personal Inbox. */
  project: string | null;
  status: Status;
  priority: Priority;
  /** Days from today (17:00 UTC), negative when overdue; null for no due date. */
  dueInDays: number | null;
  tags: string[];
  assignee?: DemoKey;
  /** The title of the task this is a subtask of (listed before it). */
  parent?: string;
  description?: string;
}

const PROJECTS = [
  {
    name: 'Website relaunch',
    description: 'The new site goes live before the spring campaign',
    owner: 'ada',
    members: [{ key: 'grace', role: 'editor' }],
  },
  {
    name: 'Office move',
    description: 'Everything that has to happen before we change floors',
    owner: 'grace',
    members: [{ key: 'ada', role: 'commenter' }],
  },
] as const satisfies readonly {
  name: string;
  description: string;
  owner: DemoKey;
  members: readonly { key: DemoKey; role: 'viewer' | 'commenter' | 'editor' }[];
}[];

const TASKS: DemoTask[] = [
  {
    title: 'Draft the landing page copy',
    by: 'ada',
    project: 'Website relaunch',
    status: 'in_progress',
    priority: 'high',
    dueInDays: 3,
    tags: ['copy', 'marketing'],
    assignee: 'grace',
    description: 'Hero, three feature blocks and the pricing teaser.',
  },
  {
    title: 'Proofread the pricing section',
    by: 'ada',
    project: 'Website relaunch',
    status: 'todo',
    priority: 'medium',
    dueInDays: 4,
    tags: ['copy'],
    parent: 'Draft the landing page copy',
  },
  {
    title: 'Pick a colour palette',
    by: 'ada',
    project: 'Website relaunch',
    status: 'done',
    priority: 'medium',
    dueInDays: -5,
    tags: ['design'],
  },
  {
    title: 'Set up the staging server',
    by: 'ada',
    project: 'Website relaunch',
    status: 'todo',
    priority: 'high',
    dueInDays: -2,
    tags: ['ops'],
    assignee: 'ada',
  },
  {
    title: 'Write the launch announcement',
    by: 'ada',
    project: 'Website relaunch',
    status: 'todo',
    priority: 'low',
    dueInDays: 14,
    tags: ['copy', 'marketing'],
  },
  {
    title: 'Book the movers',
    by: 'grace',
    project: 'Office move',
    status: 'done',
    priority: 'high',
    dueInDays: -1,
    tags: ['logistics'],
  },
  {
    title: 'Order boxes',
    by: 'grace',
    project: 'Office move',
    status: 'in_progress',
    priority: 'medium',
    dueInDays: 1,
    tags: ['logistics', 'shopping'],
    assignee: 'grace',
  },
  {
    title: 'Plan the desk layout',
    by: 'grace',
    project: 'Office move',
    status: 'todo',
    priority: 'low',
    dueInDays: 10,
    tags: ['planning'],
  },
  {
    title: 'Renew passport',
    by: 'ada',
    project: null,
    status: 'todo',
    priority: 'high',
    dueInDays: 30,
    tags: ['personal'],
  },
  {
    title: 'Call the bank',
    by: 'grace',
    project: null,
    status: 'todo',
    priority: 'medium',
    dueInDays: null,
    tags: [],
  },
  {
    title: 'Review new accounts',
    by: 'admin',
    project: null,
    status: 'todo',
    priority: 'medium',
    dueInDays: 7,
    tags: ['admin'],
  },
];

const COMMENTS: { task: string; by: DemoKey; body: string }[] = [
  { task: 'Draft the landing page copy', by: 'grace', body: 'First draft is in; feedback welcome.' },
  {
    task: 'Draft the landing page copy',
    by: 'ada',
    body: 'Looks good. Could the second paragraph be shorter?',
  },
  { task: 'Set up the staging server', by: 'ada', body: 'Blocked on the DNS change; chasing it.' },
  { task: 'Order boxes', by: 'ada', body: 'Can we get recycled ones?' },
];

const STEPS = 4;

function dueAt(days: number | null, now: number): string | null {
  if (days === null) return null;
  const day = new Date(now + days * 86_400_000);
  day.setUTCHours(17, 0, 0, 0);
  return day.toISOString();
}

function principalOf(userId: string, role: Role): Principal {
  return { userId, role, sessionId: null, scopes: null, apiKeyId: null, tokenExpiresAt: null };
}

/** Writes the demo data through the services, so every rule and every event of the API applies. */
async function seedDemo(ctx: AppContext, io: CliIo): Promise<void> {
  const { users, projects, projectMembers, tasks, comments } = ctx.services;
  const step = (n: number, text: string) => io.stderr(`seed: [${n}/${STEPS}] ${text}\n`);
  for (const demo of DEMO_USERS) {
    if (await users.credentials(demo.email)) {
      throw new CliError(`seed: demo data exists (${demo.email} has an account): nothing was changed`);
    }
  }
  step(1, `${DEMO_USERS.length} users`);
  const who = {} as Record<DemoKey, Principal>;
  for (const demo of DEMO_USERS) {
    const user = await users.create({
      email: demo.email,
      password: demo.password,
      name: demo.name,
      role: demo.role,
    });
    who[demo.key] = principalOf(user.id, demo.role);
  }
  step(2, `${PROJECTS.length} projects with their members`);
  const projectIds = new Map<string, string>();
  for (const p of PROJECTS) {
    const project = await projects.create(who[p.owner], { name: p.name, description: p.description });
    projectIds.set(p.name, project.id);
    for (const member of p.members) {
      const email = DEMO_USERS.find((u) => u.key === member.key)?.email ?? '';
      await projectMembers.add(who[p.owner], project.id, { email, role: member.role });
    }
  }
  step(3, `${TASKS.length} tasks`);
  const now = ctx.clock();
  const taskIds = new Map<string, string>();
  for (const t of TASKS) {
    const parentId = t.parent === undefined ? undefined : taskIds.get(t.parent);
    const projectId = t.project === null ? undefined : projectIds.get(t.project);
    const task = await tasks.create(who[t.by], {
      title: t.title,
      ...(projectId ? { projectId } : {}),
      ...(parentId ? { parentId } : {}),
      ...(t.description ? { description: t.description } : {}),
      status: t.status,
      priority: t.priority,
      dueAt: dueAt(t.dueInDays, now),
      tags: t.tags,
      ...(t.assignee ? { assigneeId: who[t.assignee].userId } : {}),
    });
    taskIds.set(t.title, task.id);
  }
  step(4, `${COMMENTS.length} comments`);
  for (const c of COMMENTS) {
    await comments.create(who[c.by], taskIds.get(c.task) ?? '', c.body);
  }
}

export const seedCommand: Command = {
  name: 'seed',
  summary: 'seed --demo: demo users, projects, tasks and comments to log in to and explore',
  usage: 'seed --demo',
  help: [
    'Creates an admin and two members (their emails and passwords are printed at the end), two',
    'shared projects with members, tasks of every status and priority (overdue, due soon, tagged,',
    'assigned, a subtask) and comments, through the same services as the API. Refuses when demo',
    'accounts exist. Applies pending migrations first. A line per step on stderr.',
    '(The bulk data for scale benchmarks is npm run seed, a different tool.)',
  ],
  args: [],
  options: { '--demo': 'flag' },
  async run({ options }, io) {
    if (!options['--demo']) throw new UsageError('seed needs --demo');
    await withContext(io, { command: 'seed', migrate: true, changes: false }, (ctx) => seedDemo(ctx, io));
    const width = Math.max(...DEMO_USERS.map((u) => u.email.length));
    io.stdout(
      [
        'demo data ready: log in with POST /api/v1/auth/login, or Authorize on /docs, as',
        ...DEMO_USERS.map((u) => `  ${u.email.padEnd(width)}  ${u.password.padEnd(21)}  ${u.role}`),
        '',
      ].join('\n'),
    );
    return 0;
  },
};
