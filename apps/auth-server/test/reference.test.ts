import { openApiDocument } from '@aimable/auth-openapi';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { parse } from 'yaml';
import { startHarness, type Harness } from './support/harness.js';

let h: Harness;

beforeAll(async () => {
  h = await startHarness();
}, 60_000);

afterAll(() => h?.close());

describe('the contract and its reference page', () => {
  test('When /openapi.yaml is asked, then it answers the contract the server implements', async () => {
    const response = await fetch(`${h.url}/openapi.yaml`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^application\/yaml/);
    expect(parse(await response.text())).toEqual(openApiDocument);
  });

  test('When /docs is asked, then the page loads Redoc and the contract from this server only', async () => {
    const response = await fetch(`${h.url}/docs`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/html/);
    const csp = response.headers.get('content-security-policy')!;
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toMatch(/https?:|\*/);
    const html = await response.text();
    const sources = [...html.matchAll(/(?:src|spec-url)="([^"]+)"/g)].map((match) => match[1]);
    expect(sources).toEqual(['/openapi.yaml', '/docs/redoc.standalone.js']);

    const script = await fetch(`${h.url}/docs/redoc.standalone.js`);
    expect(script.status).toBe(200);
    expect(script.headers.get('content-type')).toMatch(/^application\/javascript/);
    expect(await script.text()).toContain('RedocStandalone');
  });
});
