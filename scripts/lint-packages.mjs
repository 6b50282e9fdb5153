// `pnpm lint:packages`: packs every publishable workspace package as `pnpm publish` would (workspace:
// versions rewritten, only its `files`), then checks each tarball with publint and with attw (Are the
// Types Wrong?, ESM-only profile). Exits 1 on any error of either, or on a tarball that keeps `workspace:`.
// The packages are packed from their dist/: run `pnpm build` first.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { pack, publishablePackages, root } from './packages.mjs';

const bin = (name) => join(root, 'node_modules', '.bin', name);

const publishable = publishablePackages();
const out = mkdtempSync(join(tmpdir(), 'aimable-packs-'));
const failed = [];
try {
  for (const project of publishable) {
    const where = relative(root, project.path);
    console.log(`\n== ${project.name} (${where})`);
    const tarball = pack(project.path, out);
    const manifest = execFileSync('tar', ['xzOf', tarball, 'package/package.json'], { encoding: 'utf8' });
    if (manifest.includes('"workspace:')) {
      console.error('package.json in the tarball keeps the workspace: protocol');
      failed.push(`${project.name}: workspace: protocol`);
    }
    // Exports of files that are not modules (the contract, openapi.yaml) have no types to check.
    const assets = Object.entries(JSON.parse(manifest).exports ?? {})
      .filter(([, target]) => typeof target === 'string' && !/\.(m?js|json)$/.test(target))
      .map(([subpath]) => subpath);
    const checks = [
      ['publint', [bin('publint'), 'run', tarball, '--level', 'warning', '--strict']],
      ['attw', [bin('attw'), tarball, '--profile', 'esm-only', '--format', 'table', '--no-summary', '--no-emoji', ...(assets.length > 0 ? ['--exclude-entrypoints', ...assets] : [])]],
    ];
    for (const [name, [command, ...args]] of checks) {
      const result = spawnSync(command, args, { cwd: project.path, stdio: 'inherit' });
      if (result.status !== 0) failed.push(`${project.name}: ${name}`);
    }
  }
} finally {
  rmSync(out, { recursive: true, force: true });
}
if (failed.length > 0) {
  console.error(`\nPackages with errors:\n  - ${failed.join('\n  - ')}`);
  process.exit(1);
}
console.log(`\n${publishable.length} packages pass publint and attw.`);
