import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);

/** The page loads its script and the contract from this server, and nothing from anywhere else. */
const CONTENT_SECURITY_POLICY =
  "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self' data:; worker-src 'self' blob:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'";

const PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Aimable Auth API reference</title>
</head>
<body>
<redoc spec-url="/openapi.yaml"></redoc>
<script type="module" src="/docs/redoc.standalone.js"></script>
</body>
</html>
`;

/** The contract and its reference page (Redoc, served by this server: no CDN), each file read once, on first use. */
export interface Reference {
  contract(): Promise<string>;
  page(): { html: string; contentSecurityPolicy: string };
  script(): Promise<string>;
}

export function createReference(): Reference {
  let contract: Promise<string> | undefined;
  let script: Promise<string> | undefined;
  return {
    contract: () => (contract ??= readFile(require.resolve('@aimable/auth-openapi/openapi.yaml'), 'utf8')),
    page: () => ({ html: PAGE, contentSecurityPolicy: CONTENT_SECURITY_POLICY }),
    script: () => (script ??= readFile(redocBundle(), 'utf8')),
  };
}

/**
 * Redoc's standalone bundle (MIT, its licence in its header). The build copies it beside this file,
 * and the published package does not depend on redoc: npm cannot install redoc 3's own dependencies
 * (@redocly/redoc-opentelemetry is not on the registry at the version it asks for), nor should a
 * server install the React peers of a page it serves as one file. From src (tests), the dev dependency.
 */
function redocBundle(): string {
  const copied = fileURLToPath(new URL('./redoc.standalone.js', import.meta.url));
  return existsSync(copied) ? copied : require.resolve('redoc/bundles/redoc.standalone.js');
}
