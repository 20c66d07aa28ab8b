import type { KyselyPlugin, PluginTransformQueryArgs, RootOperationNode, SelectQueryNode } from 'kysely';
import type { AppContext } from '../../src/lib/module.js';

/**
 * The row locks of a service's writes, as PostgreSQL would take them, on either database: the
 * service unit tests call `asPostgres()` after making their fixtures, so the services take their
 * PostgreSQL paths, and every SELECT … FOR UPDATE / FOR NO KEY UPDATE is recorded (its first table
 * and its parameters) and run without the clause, which SQLite would refuse. `restore()` (in an
 * afterEach) puts the database handle back as it was.
 */
export interface Lock {
  modifier: string;
  table: string;
  parameters: readonly unknown[];
}

function lockRecorder(locks: Lock[], compile: (node: RootOperationNode) => readonly unknown[]): KyselyPlugin {
  return {
    transformQuery({ node }: PluginTransformQueryArgs): RootOperationNode {
      if (node.kind !== 'SelectQueryNode') return node;
      const select = node as SelectQueryNode;
      const lockings = (select.endModifiers ?? []).filter((m) => m.modifier?.startsWith('For'));
      if (lockings.length === 0) return node;
      const from = select.from?.froms[0] as unknown as { table?: { identifier: { name: string } } };
      const stripped = {
        ...select,
        endModifiers: (select.endModifiers ?? []).filter((m) => !lockings.includes(m)),
      };
      locks.push({
        modifier: lockings.map((m) => m.modifier).join(' '),
        table: from.table?.identifier.name ?? '?',
        parameters: compile(stripped),
      });
      return stripped;
    },
    async transformResult(args) {
      return args.result;
    },
  };
}

export function lockWatch(ctx: () => AppContext) {
  const locks: Lock[] = [];
  let saved: { dialect: string; db: unknown } | null = null;
  return {
    locks,
    /** From here on the services see PostgreSQL, and `locks` fills (emptied first). */
    asPostgres() {
      const handle = ctx().database as unknown as { dialect: string; db: AppContext['database']['db'] };
      saved = { dialect: handle.dialect, db: handle.db };
      const db = handle.db;
      locks.length = 0;
      handle.db = db.withPlugin(
        lockRecorder(locks, (node) => db.getExecutor().compileQuery(node, { queryId: 'lock' }).parameters),
      );
      handle.dialect = 'postgres';
    },
    restore() {
      if (saved) Object.assign(ctx().database, saved);
      saved = null;
    },
  };
}
