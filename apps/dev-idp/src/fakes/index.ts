import { createFakeApple, type FakeAppleOptions } from './apple.js';
import { createFakeEntra, type FakeEntraOptions } from './entra.js';
import type { FakeContext, FakeProvider } from './fake-provider.js';
import { createGithubFake, type GithubFakeOptions } from './github.js';

export type { FakeContext, FakeProvider } from './fake-provider.js';
export type { FakeAppleClient, FakeAppleOptions } from './apple.js';

/** The fakes to serve, each given the clients registered with it. None is served unless asked for. */
export interface FakeProvidersOptions {
  /** GitHub under `/github`: `/github/login/oauth/…` and its API at `/github/api`. */
  github?: GithubFakeOptions;
  /** Microsoft Entra ID, under `/entra`. */
  entra?: FakeEntraOptions;
  /** Sign in with Apple, under `/apple`. */
  apple?: FakeAppleOptions;
}

export function createFakeProviders(context: FakeContext, options: FakeProvidersOptions): FakeProvider[] {
  const fakes: FakeProvider[] = [];
  if (options.github) fakes.push(createGithubFake(context, options.github));
  if (options.entra) fakes.push(createFakeEntra(context, options.entra));
  if (options.apple) fakes.push(createFakeApple(context, options.apple));
  return fakes;
}

/** The fake that serves `url`, if any. */
export function fakeFor(fakes: readonly FakeProvider[], url: string | undefined): FakeProvider | undefined {
  if (url === undefined) return undefined;
  return fakes.find((fake) => url === fake.prefix || url.startsWith(`${fake.prefix}/`) || url.startsWith(`${fake.prefix}?`));
}
