import { expect } from 'vitest';

/** The problem document of a response, once it is known to be one (`application/problem+json`). */
export async function problemOf(response: Response) {
  expect(response.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  return (await response.json()) as { code: string; status: number; request_id: string; errors?: { location: string }[]; detail?: string };
}
