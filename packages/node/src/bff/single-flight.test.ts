import { describe, expect, test } from 'vitest';
import { SingleFlight } from './single-flight.js';

describe('SingleFlight', () => {
  test('When callers of one key arrive while its task runs, then the task runs once and they share its result', async () => {
    const flights = new SingleFlight<number>();
    let runs = 0;
    const task = async () => {
      runs++;
      await new Promise((resolve) => setTimeout(resolve, 10));
      return runs;
    };
    const results = await Promise.all([flights.run('a', task), flights.run('a', task), flights.run('b', task)]);
    expect(runs).toBe(2);
    expect(results[0]).toBe(results[1]);
  });

  test('When the task has failed, then the next caller starts a new one', async () => {
    const flights = new SingleFlight<string>();
    await expect(flights.run('a', () => Promise.reject(new Error('down')))).rejects.toThrow('down');
    await expect(flights.run('a', async () => 'up')).resolves.toBe('up');
  });
});
