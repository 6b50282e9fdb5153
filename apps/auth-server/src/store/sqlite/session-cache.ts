/**
 * Every request with an access token reads its session and user
 * (`findSessionWithUser`). On SQLite that read is kept in memory, and
 * answered from there while nothing may have changed it.
 *
 * Why an answer from memory is what the database would answer now:
 *
 * 1. The change counter (`sqliteChangeCounter`) is W + D. W counts every
 *    statement of the store's connection that may write, BEGIN and COMMIT
 *    included: every such statement is prepared through the statement cache
 *    (`statement-cache.ts`), Kysely's and the direct runner's alike, and is
 *    counted each time it runs. D is SQLite's `data_version`, which changes
 *    whenever another connection (an operator's command, another process)
 *    commits to the file. W only grows, and SQLite only increments D. So
 *    no row changes without the counter changing.
 * 2. A read takes the counter before it reads the database, and keeps its
 *    answer under that value. The database read may wait for the
 *    connection; a write that lands meanwhile changes the counter, so the
 *    answer, whatever it saw, is kept under a value already past, which no
 *    later read matches. What is kept is never older than its value.
 * 3. A kept answer is used only while the counter still equals its value:
 *    nothing was written since it was read, so the database would answer
 *    the same. A revoked session is refused on the next request, as without
 *    the cache. (The service checks expiry from the session's fields on
 *    every request: the cache keeps rows, not decisions.)
 * 4. While a transaction is open on the connection the counter is
 *    undefined: its writes are counted but not yet committed, and reading
 *    `data_version` inside it would begin its snapshot before its first
 *    statement does. Such a read goes to the database, waits its turn, and
 *    is not kept.
 * 5. Entries are keyed by tenant and session and checked against both, so
 *    one tenant's session is never answered for another; they are frozen,
 *    so no caller can change what the next one gets; the map is emptied at
 *    `KEPT_SESSIONS` entries.
 *
 * Only a store that sees every change can count them: one SQLite file with
 * group commit (whose statement cache counts the writes). On PostgreSQL,
 * other instances write unseen, and every read goes to the database.
 */
import type SqliteDatabase from 'better-sqlite3';
import type { AuditEventPage, AuthStore, IdempotencyKeyRef, IdempotencyScope, SessionPage, StoreOperations } from '../auth-store.js';
import type { NewAuditEvent, NewLoginState, NewLogoutTokenJti, NewRefreshToken, NewSession, NewSessionIdToken, NewUser, ServerKeyRecord, SessionRecord, UserRecord } from '../schema.js';
import type { GroupCommit } from './group-commit.js';

/** A number that changes whenever what a read returns may have changed; undefined while that cannot be told. */
export type ChangeCounter = () => number | undefined;

/** Sessions read with their users, kept while nothing may have changed them. */
const KEPT_SESSIONS = 10_000;

/** SQLite's change counter (1 and 4 above): the writes `commits` counted, plus `data_version`; undefined in a transaction. */
export function sqliteChangeCounter(database: SqliteDatabase.Database, commits: GroupCommit): ChangeCounter {
  const dataVersion = database.prepare('PRAGMA data_version').pluck();
  return () => (database.inTransaction ? undefined : commits.written + (dataVersion.get() as number));
}

/** `store`, with its sessions read with their users kept while `changes` stays. */
export function withSessionCache(store: AuthStore, changes: ChangeCounter): AuthStore {
  return new SessionCache(store, changes);
}

type Found = { session: SessionRecord; user: UserRecord };

class SessionCache implements AuthStore {
  readonly #kept = new Map<string, { version: number; found: Found }>();
  readonly dialect: AuthStore['dialect'];

  constructor(
    private readonly store: AuthStore,
    private readonly changes: ChangeCounter,
  ) {
    this.dialect = store.dialect;
  }

  async findSessionWithUser(tenantId: string, sessionId: string): Promise<Found | undefined> {
    const version = this.changes();
    if (version === undefined) return this.store.findSessionWithUser(tenantId, sessionId);
    const key = `${tenantId}\u0000${sessionId}`;
    const kept = this.#kept.get(key);
    if (kept?.version === version && kept.found.session.tenantId === tenantId && kept.found.session.id === sessionId) return kept.found;
    const found = await this.store.findSessionWithUser(tenantId, sessionId);
    if (!found) return undefined;
    if (this.#kept.size >= KEPT_SESSIONS) this.#kept.clear();
    const frozen = Object.freeze({ session: Object.freeze(found.session), user: Object.freeze(found.user) });
    this.#kept.set(key, { version, found: frozen });
    return frozen;
  }

  // Everything else is the store's own.
  transaction<T>(work: (tx: StoreOperations) => Promise<T>) { return this.store.transaction(work); }
  insertLoginState(row: NewLoginState) { return this.store.insertLoginState(row); }
  findLiveLoginState(stateHash: string, now: number) { return this.store.findLiveLoginState(stateHash, now); }
  findLoginState(stateHash: string, now: number) { return this.store.findLoginState(stateHash, now); }
  markLoginReturned(stateHash: string, now: number, name?: string | null) { return this.store.markLoginReturned(stateHash, now, name); }
  consumeLoginState(stateHash: string, tenantId: string, now: number) { return this.store.consumeLoginState(stateHash, tenantId, now); }
  restoreLoginState(stateHash: string, consumedAt: number) { return this.store.restoreLoginState(stateHash, consumedAt); }
  upsertUser(user: NewUser) { return this.store.upsertUser(user); }
  findUser(tenantId: string, userId: string) { return this.store.findUser(tenantId, userId); }
  insertSession(session: NewSession) { return this.store.insertSession(session); }
  findSession(tenantId: string, sessionId: string) { return this.store.findSession(tenantId, sessionId); }
  touchSession(tenantId: string, sessionId: string, now: number, idleExpiresAt: number) { return this.store.touchSession(tenantId, sessionId, now, idleExpiresAt); }
  revokeSession(tenantId: string, sessionId: string, reason: string, now: number) { return this.store.revokeSession(tenantId, sessionId, reason, now); }
  revokeProviderSessions(...args: Parameters<AuthStore['revokeProviderSessions']>) { return this.store.revokeProviderSessions(...args); }
  insertSessionIdToken(row: NewSessionIdToken) { return this.store.insertSessionIdToken(row); }
  findSessionIdToken(tenantId: string, sessionId: string) { return this.store.findSessionIdToken(tenantId, sessionId); }
  recordLogoutTokenJti(row: NewLogoutTokenJti, now: number) { return this.store.recordLogoutTokenJti(row, now); }
  listActiveSessions(tenantId: string, userId: string, now: number, page: SessionPage) { return this.store.listActiveSessions(tenantId, userId, now, page); }
  insertRefreshToken(token: NewRefreshToken) { return this.store.insertRefreshToken(token); }
  findRefreshTokenByHash(tenantId: string, tokenHash: string) { return this.store.findRefreshTokenByHash(tenantId, tokenHash); }
  findRefreshToken(tenantId: string, id: string) { return this.store.findRefreshToken(tenantId, id); }
  retireRefreshToken(tenantId: string, id: string, retirement: Parameters<AuthStore['retireRefreshToken']>[2]) { return this.store.retireRefreshToken(tenantId, id, retirement); }
  findIdempotencyRecord(ref: IdempotencyKeyRef, now: number) { return this.store.findIdempotencyRecord(ref, now); }
  claimIdempotencyKey(scope: IdempotencyScope, fingerprint: string, now: number, timing: { retentionMs: number; lockMs: number }) { return this.store.claimIdempotencyKey(scope, fingerprint, now, timing); }
  completeIdempotencyKey(ref: IdempotencyKeyRef, responseStatus: number, sealedResponse: string) { return this.store.completeIdempotencyKey(ref, responseStatus, sealedResponse); }
  releaseIdempotencyKey(ref: IdempotencyKeyRef) { return this.store.releaseIdempotencyKey(ref); }
  insertAuditEvent(event: NewAuditEvent) { return this.store.insertAuditEvent(event); }
  countAuditEvent(event: NewAuditEvent & { count: number }) { return this.store.countAuditEvent(event); }
  listAuditEvents(tenantId: string, page: AuditEventPage) { return this.store.listAuditEvents(tenantId, page); }
  prune(now: number, auditRetentionMs?: number) { return this.store.prune(now, auditRetentionMs); }
  countRows() { return this.store.countRows(); }
  listServerKeys() { return this.store.listServerKeys(); }
  insertServerKey(key: ServerKeyRecord) { return this.store.insertServerKey(key); }
  replaceServerKeyMaterial(id: string, from: string, to: string) { return this.store.replaceServerKeyMaterial(id, from, to); }
  retireSigningKey(id: string, now: number) { return this.store.retireSigningKey(id, now); }
  ping() { return this.store.ping(); }
  probeWrite() { return this.store.probeWrite(); }
  close() { return this.store.close(); }
}
