import { describe, expect, test } from 'vitest';
import { cookieNames, keyCookie, newOpaqueKey, readKeyCookie } from './session-cookie.js';

describe('the session cookie', () => {
  test('When the app is served over https, then the cookie is Secure with the __Host- prefix; on http://localhost, neither', () => {
    expect(cookieNames(true).session).toBe('__Host-aimable_session');
    expect(keyCookie('__Host-aimable_session', 'k', { secure: true, maxAgeSeconds: 60 })).toBe('__Host-aimable_session=k; Path=/; Max-Age=60; HttpOnly; SameSite=Lax; Secure');
    expect(keyCookie('aimable_session', 'k', { secure: false, maxAgeSeconds: 60 })).not.toContain('Secure');
  });

  test('When the Cookie header holds a key among other cookies, then it is read, and a value of another shape is not', () => {
    const key = newOpaqueKey();
    expect(readKeyCookie(`theme=dark; aimable_session=${key}; other=1`, 'aimable_session')).toBe(key);
    expect(readKeyCookie('aimable_session=../../etc', 'aimable_session')).toBeUndefined();
    expect(readKeyCookie(null, 'aimable_session')).toBeUndefined();
  });
});
