import { describe, expect, test } from 'vitest';
import { isSameOriginRequest } from './csrf.js';

const app = 'https://app.example';
const post = (headers: Record<string, string>) => new Request(`${app}/auth/sign-out`, { method: 'POST', headers });

describe('isSameOriginRequest', () => {
  test('When Origin is the app, then the request is the app page', () => {
    expect(isSameOriginRequest(post({ Origin: app }), app)).toBe(true);
  });

  test('When Origin is a sibling subdomain, which SameSite lets through, then it is refused', () => {
    expect(isSameOriginRequest(post({ Origin: 'https://evil.app.example' }), app)).toBe(false);
  });

  test('When Origin is missing, then Sec-Fetch-Site decides, and neither header refuses', () => {
    expect(isSameOriginRequest(post({ 'Sec-Fetch-Site': 'same-origin' }), app)).toBe(true);
    expect(isSameOriginRequest(post({ 'Sec-Fetch-Site': 'same-site' }), app)).toBe(false);
    expect(isSameOriginRequest(post({}), app)).toBe(false);
  });
});
