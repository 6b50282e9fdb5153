import { createHash } from 'node:crypto';

/** What the benchmark's auth server, its logins and its load share. */
export const BENCH_TENANT = 'bench';
export const API_KEY = 'ak_bench_0001';
export const BENCH_API_KEY_SHA256 = createHash('sha256').update(API_KEY).digest('hex');
export const BENCH_CLIENT = { id: 'bench', secret: 'bench-secret' };
export const REDIRECT_URI = 'http://localhost:5173/auth/callback';
export const REFRESH_COOKIE = `__Host-aimable_refresh_${BENCH_TENANT}`;
