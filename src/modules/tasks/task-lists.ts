import { ApiError, fieldError } from '../../errors.js';
import type { Principal } from '../../lib/principal.js';
import {
  FIELDS,
  FILTERS,
  type Field,
  type FieldName,
  type FilterName,
  type Sort,
  type SortKey,
  sortColumn,
  type TaskFilter,
} from './task-fields.js';
import type * as repo from './tasks.repository.js';
import type { TaskListFilters } from './tasks.schemas.js';

/** From a list's query to what the repository applies: visibility, filters, sort, cursor position. */

/** A position a (signed) cursor carries, checked for the type the sort key declares. */
export function positionFrom(value: unknown, sort: Sort): repo.Position {
  const p = value as Partial<repo.Position> | null;
  const { position, nullable } = sortColumn(sort.key);
  const valueOk = (p?.v === null && nullable) || typeof p?.v === position;
  if (typeof p !== 'object' || p === null || typeof p.id !== 'string' || !valueOk) {
    throw new ApiError('invalid_cursor');
  }
  return { v: p.v ?? null, id: p.id };
}

export function visibilityOf(caller: Principal): repo.Visibility {
  return caller.role === 'admin' ? { all: true } : { all: false, userId: caller.userId };
}

/** A query value (normalised by validation, like a body's) as the field stores it. */
function storedValue(name: FieldName, value: unknown): unknown {
  const f: Field = FIELDS[name];
  return f.encode(value);
}

/** The query's filters as stored values; a range's upper bound must be above its lower one. */
export function toFilter(query: TaskListFilters): TaskFilter {
  const filter: Record<string, unknown> = {};
  const names = Object.keys(FILTERS) as FilterName[];
  for (const name of names) {
    const raw = query[name];
    if (raw === undefined) continue;
    const spec = FILTERS[name];
    if (spec.op === 'tag' || spec.op === 'parent') {
      filter[name] = String(raw);
    } else if (spec.op === 'search') {
      // Matched against the search text, which is stored lower-cased.
      filter[name] = String(raw).toLowerCase();
    } else if (spec.op === 'in') {
      filter[name] = [...new Set(raw as unknown[])].map((v) => storedValue(spec.field, v));
    } else {
      filter[name] = storedValue(spec.field, raw);
    }
  }
  for (const name of names) {
    const spec = FILTERS[name];
    if (!('above' in spec)) continue;
    const [low, high] = [filter[spec.above], filter[name]] as (string | number | undefined)[];
    if (low !== undefined && high !== undefined && low >= high) {
      throw fieldError(`/query/${name}`, 'invalid_range', `must be after ${spec.above}`);
    }
  }
  // Every value above is the stored form its filter compares; the loop loses the per-key types.
  return filter as TaskFilter;
}

export function toSort(sort: string): Sort {
  const descending = sort.startsWith('-');
  return { key: (descending ? sort.slice(1) : sort) as SortKey, descending };
}
