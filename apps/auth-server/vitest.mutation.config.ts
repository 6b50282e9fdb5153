import { defineConfig, mergeConfig } from 'vitest/config';
import base from './vitest.config.js';

/**
 * The tests mutation testing runs: all but those that run the server in a
 * child process (the entry point, kill -9), which never see a mutant, and
 * the contract fuzzer, which checks answers against the contract rather
 * than the logic, and would take 40 seconds for every mutant. They
 * run one file after another in one process, so that what each test
 * covers is told apart exactly.
 */
export default mergeConfig(
  base,
  defineConfig({
    test: {
      exclude: ['test/main.test.ts', 'test/durability.test.ts', 'test/fuzz.test.ts', 'test/postgres/**', 'node_modules/**'],
      fileParallelism: false,
      pool: 'forks',
      poolOptions: { forks: { singleFork: true } },
    },
  }),
);
