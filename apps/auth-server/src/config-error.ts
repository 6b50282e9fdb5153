/**
 * The configuration, or the place it names, cannot be used: every problem
 * found, each naming its path. The entry points print them and exit 78
 * (EX_CONFIG). It sits below every module that finds such a problem (the
 * config's checks, the data directory's).
 */
export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n  - ${problems.join('\n  - ')}`);
    this.name = 'ConfigError';
  }
}
