/**
 * Taskforge's mark for the docs pages: a check in an amber square, and the name beside it for
 * Swagger UI's dark top bar. Plain SVG, inlined by the pages, so nothing loads from elsewhere.
 */
const MARK =
  '<rect x="2" y="4" width="32" height="32" rx="7" fill="#f59e0b"/>' +
  '<path d="M10 20.5l6 6 11-13" fill="none" stroke="#1b1b1b" stroke-width="4" stroke-linecap="round" stroke-linejoin="round"/>';

export const LOGO_SVG =
  '<svg xmlns="http://www.w3.org/2000/svg" width="180" height="40" viewBox="0 0 180 40" role="img" aria-label="Taskforge">' +
  MARK +
  '<text x="44" y="28" font-family="system-ui, -apple-system, Segoe UI, Helvetica, Arial, sans-serif" font-size="22" font-weight="700" fill="#ffffff">Taskforge</text>' +
  '</svg>';

export const ICON_SVG = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 2 36 36">${MARK}</svg>`;

/** The icon as a data: URL, for pages that link it inline. */
export const ICON_DATA_URL = `data:image/svg+xml,${encodeURIComponent(ICON_SVG)}`;
