// The workspace's publishable packages, packed as `pnpm publish` packs them: `workspace:` versions
// rewritten, only each package's `files`. Shared by `pnpm lint:packages` and `pnpm test:packages`.
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const root = fileURLToPath(new URL('..', import.meta.url)).replace(/\/$/, '');

/** Every package of the workspace that is not private: its name and directory. */
export function publishablePackages() {
  const projects = JSON.parse(execFileSync('pnpm', ['ls', '-r', '--depth', '-1', '--json'], { cwd: root, encoding: 'utf8' }));
  return projects.filter((project) => !project.private && project.path !== root).map(({ name, path }) => ({ name, path }));
}

/** Packs the package in `path` into `destination`; the tarball's path. The package is packed from its dist/: build first. */
export function pack(path, destination) {
  return JSON.parse(execFileSync('pnpm', ['pack', '--json', '--pack-destination', destination], { cwd: path, encoding: 'utf8' })).filename;
}
