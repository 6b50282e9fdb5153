import pino from 'pino';
import { describe, expect, test } from 'vitest';
import { Metrics } from '../metrics/metrics.js';
import { SecurityEvents } from './security-events.js';

describe('security events', () => {
  test('When the audit row cannot be written, then the event still resolves, and the failure is logged and counted', async () => {
    const lines: string[] = [];
    const metrics = new Metrics();
    const store = { insertAuditEvent: async () => Promise.reject(new Error('disk full')), countAuditEvent: async () => Promise.reject(new Error('disk full')) };
    const events = new SecurityEvents(store, metrics, pino({}, { write: (line: string) => void lines.push(line) }), { now: () => 0 });
    await expect(events.record({ type: 'session_created', tenantId: 'alpha', sessionId: 'ses_1', userId: 'usr_1' })).resolves.toBeUndefined();
    expect(lines.some((line) => line.includes('audit event not written') && line.includes('disk full'))).toBe(true);
    const text = (await metrics.render()).body;
    expect(text).toMatch(/^auth_audit_write_failures_total\{tenant="alpha"\} 1$/m);
    expect(text).toMatch(/^auth_security_events_total\{tenant="alpha",type="session_created"\} 1$/m);
  });

  test('When a store has a pool, then its use is exported at each scrape', async () => {
    let waiting = 0;
    const metrics = new Metrics({ poolStats: () => ({ total: 10, idle: 4, waiting, max: 10 }) });
    waiting = 3;
    const text = (await metrics.render()).body;
    expect(text).toMatch(/^auth_db_pool_connections 10$/m);
    expect(text).toMatch(/^auth_db_pool_idle_connections 4$/m);
    expect(text).toMatch(/^auth_db_pool_waiting_requests 3$/m);
    expect(text).toMatch(/^auth_db_pool_max_connections 10$/m);
  });
});
