/** Escapes text for HTML element content and double-quoted attribute values. */
export function escapeHtml(text: string): string {
  return text
    .replaceAll('&', '&amp;')
    .replaceAll('<', '&lt;')
    .replaceAll('>', '&gt;')
    .replaceAll('"', '&quot;')
    .replaceAll("'", '&#39;');
}

/**
 * Wraps already-escaped body markup in a minimal document. `title` is plain
 * text and escaped here. No scripts and no external resources: the pages must
 * work offline and the CSP below forbids anything else.
 */
export function renderPage(title: string, bodyHtml: string): string {
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<style>
body{font-family:system-ui,sans-serif;max-width:24rem;margin:3rem auto;padding:0 1rem;color:#222}
label,input,button{display:block;width:100%;box-sizing:border-box}
input{margin:.25rem 0 1rem;padding:.5rem;font-size:1rem}
button{padding:.6rem;font-size:1rem;cursor:pointer}
.error{color:#b00020}
.hint{color:#555;font-size:.9rem}
</style>
</head>
<body>
${bodyHtml}
</body>
</html>
`;
}

/** Headers for every page this provider renders itself. */
export const PAGE_HEADERS = {
  'Content-Type': 'text/html; charset=utf-8',
  'Cache-Control': 'no-store',
  'Content-Security-Policy': "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'",
} as const;
