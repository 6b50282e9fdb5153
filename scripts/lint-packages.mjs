// `pnpm lint:packages`: packs every publishable workspace package as `pnpm publish` would (workspace:
// versions rewritten, only its `files`), then checks each tarball with publint and with attw (Are the
// Types Wrong?, ESM-only profile). Exits 1 on any error of either, or on a tarball that keeps `workspace:`.
// The packages are packed from their dist/: run `pnpm build` first.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const bin = (name) => join(root, 'node_modules', '.bin', name);

const projects = JSON.parse(execFileSync('pnpm', ['ls', '-r', '--depth', '-1', '--json'], { cwd: root, encoding: 'utf8' }));
const publishable = projects.filter((project) => !project.private && project.path !== root.replace(/\/$/, ''));
const out = mkdtempSync(join(tmpdir(), 'aimable-packs-'));
const failed = [];
try {
  for (const project of publishable) {
    const where = relative(root, project.path);
    console.log(`\n== ${project.name} (${where})`);
    const packed = JSON.parse(execFileSync('pnpm', ['pack', '--json', '--pack-destination', out], { cwd: project.path, encoding: 'utf8' }));
    const tarball = packed.filename;
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
      ['publint', [bin('publint'), 'run', tarball, '--level', 'warning']],
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
