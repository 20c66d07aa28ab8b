/**
 * The candidate a mistyped name most likely meant, or null when none is close: at most one edit
 * for short names, two for longer ones (an edit: a letter added, removed, changed, or two
 * neighbours swapped, as in PROT → PORT), or a cut-off name of five letters or more
 * (ADMIN_PASS → ADMIN_PASSWORD). Case is ignored.
 */
export function closestName(name: string, candidates: readonly string[]): string | null {
  const wanted = name.toUpperCase();
  const budget = Math.min(2, Math.floor(wanted.length / 3));
  let best: string | null = null;
  let bestDistance = budget + 1;
  for (const candidate of candidates) {
    const distance = editDistance(wanted, candidate.toUpperCase(), bestDistance);
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  if (best === null && wanted.length >= 5) {
    best = candidates.find((candidate) => candidate.toUpperCase().startsWith(wanted)) ?? null;
  }
  return best;
}

/** Optimal string alignment distance, cut short once it passes `limit` (names are short). */
function editDistance(a: string, b: string, limit: number): number {
  if (Math.abs(a.length - b.length) > limit) return limit + 1;
  let before: number[] = [];
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i += 1) {
    const current = [i];
    let rowMin = i;
    for (let j = 1; j <= b.length; j += 1) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let value = Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, (previous[j - 1] ?? 0) + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        value = Math.min(value, (before[j - 2] ?? 0) + 1);
      }
      current[j] = value;
      rowMin = Math.min(rowMin, value);
    }
    if (rowMin > limit) return limit + 1;
    before = previous;
    previous = current;
  }
  return previous[b.length] ?? limit + 1;
}
