import { isAuthApiError } from '@aimable/auth-client';

/** An error as the page shows it: the API's problem code, or the error's name. */
export function problem(error: unknown): string {
  if (isAuthApiError(error)) return `${error.code}: ${error.message}`;
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}
