import { describe, expect, test } from 'vitest';
import { clientKey } from './request-origin.js';

describe('whom a request counts against', () => {
  test.each([
    ['192.0.2.7', '192.0.2.7'],
    ['2001:db8:1:2::1', '2001:db8:1:2::/64'],
    ['2001:0DB8:0001:0002:ffff:0:0:77', '2001:db8:1:2::/64'],
    ['fe80::1%eth0', 'fe80:0:0:0::/64'],
    ['::ffff:192.0.2.7', '192.0.2.7'],
    ['::FFFF:192.0.2.7', '192.0.2.7'],
    ['::ffff:c000:207', '192.0.2.7'],
    ['64:ff9b::192.0.2.7', '192.0.2.7'],
    ['64:ff9b::c000:208', '192.0.2.8'],
    ['::1', '0:0:0:0::/64'],
  ])('When the address is %s, then it counts as %s', (address, key) => {
    expect(clientKey(address)).toBe(key);
  });

  test('When two NAT64 clients or two mapped IPv4 clients differ, then they count apart', () => {
    expect(clientKey('64:ff9b::198.51.100.1')).not.toBe(clientKey('64:ff9b::198.51.100.2'));
    expect(clientKey('::ffff:0:1.2.3.4')).not.toBe(clientKey('::1'));
  });

  test('When what came as the address is not one (a client-made X-Forwarded-For passed on by a trusted proxy), then it counts as itself under a short key', () => {
    const long = 'x'.repeat(10_000);
    expect(clientKey(long)).toMatch(/^other:[0-9a-f]{32}$/);
    expect(clientKey(long)).toBe(clientKey(long));
    expect(clientKey(long)).not.toBe(clientKey(`${long}y`));
  });
});
