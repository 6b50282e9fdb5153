import type { TestProject } from 'vitest/node';
import { startTestPostgres } from './postgres.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** The throwaway PostgreSQL server of `pnpm test:postgres`; absent in `pnpm test`, whose stores are SQLite. */
    postgresUrl: string | undefined;
  }
}

/** One PostgreSQL server for the whole run; every test file makes its own databases on it. */
export default async function setup(project: TestProject): Promise<() => void> {
  const postgres = await startTestPostgres();
  project.provide('postgresUrl', postgres.url());
  return () => postgres.stop();
}
