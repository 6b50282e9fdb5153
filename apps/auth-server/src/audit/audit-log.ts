import type { AuthStore } from '../store/auth-store.js';
import type { AuditEventRecord } from '../store/schema.js';

/** Where a page of audit events starts: after the event at `at` with this id. */
export interface AuditPosition {
  at: number;
  id: string;
}

/** A tenant's audit log, as its operators read it. */
export class AuditLog {
  constructor(private readonly store: Pick<AuthStore, 'listAuditEvents'>) {}

  /** A page of the tenant's events, newest first, after the given one. */
  async list(tenantId: string, limit: number, after?: AuditPosition): Promise<{ events: AuditEventRecord[]; more: boolean }> {
    const rows = await this.store.listAuditEvents(tenantId, { limit: limit + 1, after });
    return { events: rows.slice(0, limit), more: rows.length > limit };
  }
}
