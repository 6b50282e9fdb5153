import type { IncomingMessage, ServerResponse } from 'node:http';
import Provider, { errors } from 'oidc-provider';
import { findUserByCredentials, type TestUser } from '../users.js';
import { PAGE_HEADERS } from '../views/html.js';
import { renderErrorPage } from '../views/error-page.js';
import { renderLoginPage } from '../views/login-page.js';
import { grantRequestedConsent } from './auto-consent.js';
import { FormBodyError, readFormBody } from './form-body.js';

export interface InteractionRoutesDeps {
  provider: Provider;
  users: readonly TestUser[];
  log: (line: string) => void;
}

type Interaction = Awaited<ReturnType<Provider['interactionDetails']>>;

/** Must agree with the `interactions.url` configured in provider-configuration.ts. */
export const INTERACTION_PATH_PREFIX = '/interaction/';

// oidc-provider uids are nanoids: URL-safe base64 characters only.
const ROUTE = /^\/interaction\/([A-Za-z0-9_-]+)(\/login)?$/;

/**
 * The user-facing half of the authorization flow: oidc-provider redirects the
 * browser here whenever it needs a login or consent, and these handlers
 * report the outcome back through `interactionFinished`.
 */
export function createInteractionHandler(deps: InteractionRoutesDeps) {
  return async function handleInteraction(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const match = ROUTE.exec(new URL(req.url ?? '/', 'http://placeholder').pathname);
    const uid = match?.[1];
    const isLoginSubmit = match?.[2] !== undefined;
    try {
      if (uid === undefined) return sendErrorPage(res, 404, 'not_found');
      if (!isLoginSubmit && req.method === 'GET') return await showInteraction(deps, req, res, uid);
      if (isLoginSubmit && req.method === 'POST') return await submitLogin(deps, req, res, uid);
      res.setHeader('Allow', isLoginSubmit ? 'POST' : 'GET');
      return sendErrorPage(res, 405, 'method_not_allowed');
    } catch (error) {
      return sendFailure(deps, res, error);
    }
  };
}

async function showInteraction(deps: InteractionRoutesDeps, req: IncomingMessage, res: ServerResponse, uid: string) {
  const interaction = await currentInteraction(deps.provider, req, res, uid);
  if (interaction === undefined) return;

  switch (interaction.prompt.name) {
    case 'login':
      return sendLoginPage(deps, res, 200, interaction);
    case 'consent': {
      const grantId = await grantRequestedConsent(deps.provider, interaction);
      deps.log(`consent granted: ${interaction.session?.accountId ?? '?'} -> ${clientIdOf(interaction)}`);
      return deps.provider.interactionFinished(req, res, { consent: { grantId } }, { mergeWithLastSubmission: true });
    }
    default:
      return sendErrorPage(res, 400, 'unsupported_prompt', `This provider cannot handle the "${interaction.prompt.name}" prompt.`);
  }
}

async function submitLogin(deps: InteractionRoutesDeps, req: IncomingMessage, res: ServerResponse, uid: string) {
  const interaction = await currentInteraction(deps.provider, req, res, uid);
  if (interaction === undefined) return;
  if (interaction.prompt.name !== 'login') {
    return sendErrorPage(res, 400, 'invalid_request', 'This sign-in attempt is not waiting for a login.');
  }

  const form = await readFormBody(req);
  const username = form.get('username') ?? '';
  const user = findUserByCredentials(deps.users, username, form.get('password') ?? '');
  if (user === undefined) {
    deps.log(`login refused: "${username}" -> ${clientIdOf(interaction)}`);
    return sendLoginPage(deps, res, 401, interaction, { username, error: 'Unknown username or wrong password.' });
  }

  deps.log(`login: ${user.username} (${user.sub}) -> ${clientIdOf(interaction)}`);
  // A fresh login replaces whatever an earlier attempt in this interaction submitted.
  await deps.provider.interactionFinished(req, res, { login: { accountId: user.sub } }, { mergeWithLastSubmission: false });
}

/**
 * Loads the interaction bound to the browser's cookie. It must be the one in
 * the URL: a stale tab must not finish a newer sign-in it was not shown.
 */
async function currentInteraction(provider: Provider, req: IncomingMessage, res: ServerResponse, uid: string) {
  const interaction = await provider.interactionDetails(req, res);
  if (interaction.uid === uid) return interaction;
  sendErrorPage(res, 400, 'invalid_request', 'This page belongs to another sign-in attempt. Start again from the application.');
  return undefined;
}

function sendLoginPage(
  deps: InteractionRoutesDeps,
  res: ServerResponse,
  status: 200 | 401,
  interaction: Interaction,
  attempt?: { username: string; error: string },
) {
  res.writeHead(status, PAGE_HEADERS);
  res.end(renderLoginPage({ uid: interaction.uid, clientId: clientIdOf(interaction), users: deps.users, ...attempt }));
}

function sendFailure(deps: InteractionRoutesDeps, res: ServerResponse, error: unknown) {
  if (error instanceof errors.SessionNotFound) {
    return sendErrorPage(res, 400, 'session_not_found', 'This sign-in attempt expired or its cookie is missing. Start again from the application.');
  }
  if (error instanceof FormBodyError) {
    return sendErrorPage(res, error.status, 'invalid_request', error.message);
  }
  // The detail goes to the log only; the page stays generic.
  deps.log(`interaction failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
  return sendErrorPage(res, 500, 'server_error', 'Something went wrong inside dev-idp; see its log.');
}

function sendErrorPage(res: ServerResponse, status: number, error: string, description?: string) {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  res.writeHead(status, PAGE_HEADERS);
  res.end(renderErrorPage(error, description));
}

function clientIdOf(interaction: Interaction): string {
  return String(interaction.params['client_id']);
}
