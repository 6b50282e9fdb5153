import type { Handlers, api } from '../src/index.js';

const session: api.Session = {
  id: 'ses_stub',
  provider: 'dev',
  created_at: '2026-11-28T10:00:00.000Z',
  last_refreshed_at: '2026-11-28T10:00:00.000Z',
  expires_at: '2026-12-28T10:00:00.000Z',
  idle_expires_at: '2026-12-05T10:00:00.000Z',
};
const user: api.User = { id: 'usr_stub', email: 'ada@example.com', email_verified: true, name: 'Ada', picture: null };
const grant: api.SessionGrant = { access_token: 'at', token_type: 'Bearer', expires_in: 900, session, user };

/** A complete, contract-true set of handlers that answer fixed values. */
export const stubHandlers: Handlers = {
  startOidcLogin: ({ query }) => {
    const authorizationUrl = `https://idp.test/authorize?state=s1&redirect=${encodeURIComponent(query.frontend_redirect_uri)}`;
    return { status: 302, headers: { Location: authorizationUrl, 'Cache-Control': 'no-store', Vary: 'Accept' } };
  },
  handleOidcCallback: ({ query }) => ({
    status: 302,
    headers: { Location: `http://localhost:5173/auth/callback?state=${encodeURIComponent(query.state)}` },
  }),
  receiveOidcFormPost: ({ body }) => ({
    status: 303,
    headers: { Location: `http://localhost:5173/auth/callback?state=${encodeURIComponent(body.state)}` },
  }),
  backchannelLogout: () => ({ status: 200, headers: { 'Cache-Control': 'no-store' } }),
  createSession: () => ({ status: 201, body: grant, headers: { 'Cache-Control': 'no-store' } }),
  refreshSession: () => ({ status: 200, body: grant }),
  getCurrentSession: () => ({ status: 200, body: { session, user } }),
  logout: () => ({ status: 204 }),
  listSessions: () => ({ status: 200, body: { data: [session], next_cursor: null } }),
  revokeSession: () => ({ status: 204 }),
  listProviders: () => ({ status: 200, body: { data: [{ id: 'dev', display_name: 'Local', type: 'oidc' }] } }),
  listAuditEvents: () => ({ status: 200, body: { data: [], next_cursor: null } }),
  getJwks: () => ({ status: 200, body: { keys: [] } }),
  getHealth: () => ({ status: 200, body: { status: 'ok' } }),
  getReadiness: () => ({ status: 200, body: { status: 'ready', checks: { database: 'ok' } } }),
  getOpenApiDocument: () => ({ status: 200, body: 'openapi: 3.1.0\n', headers: { 'Cache-Control': 'no-cache' } }),
  getApiReference: () => ({ status: 200, body: '<!doctype html><title>Reference</title>', headers: { 'Cache-Control': 'no-cache', 'Content-Security-Policy': "default-src 'self'" } }),
  getApiReferenceScript: () => ({ status: 200, body: 'export {};', headers: { 'Cache-Control': 'no-cache' } }),
};
