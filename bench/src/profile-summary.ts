/**
 * Where a CPU profile (node --cpu-prof, `pnpm bench -- --profile DIR`)
 * spends its time: self time by function and by package, as shares of all
 * samples; then the time spent in each function and in what it called, as
 * shares of the busy samples (all but idle).
 *
 *   node --import tsx src/profile-summary.ts results/profiles/sqlite.cpuprofile [top] [--last SECONDS]
 *
 * `--last 10` keeps only the samples of the profile's last ten seconds: a
 * server profiled through one scenario (`--only … --rounds 1`) is under
 * load then, where the whole profile also holds its start and the set-up.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
  children?: number[];
}
const { values, positionals } = parseArgs({ allowPositionals: true, options: { last: { type: 'string' } } });
const profile = JSON.parse(readFileSync(positionals[0]!, 'utf8')) as { nodes: Node[]; samples: number[]; timeDeltas: number[] };
const top = Number(positionals[1] ?? 25);
const samples = values.last === undefined ? profile.samples : lastSamples(Number(values.last) * 1e6);
const hits = new Map<number, number>();
for (const id of samples) hits.set(id, (hits.get(id) ?? 0) + 1);
const total = samples.length;

/** The samples taken in the profile's last `micros` microseconds (each sample's delta is from the one before it). */
function lastSamples(micros: number): number[] {
  let elapsed = 0;
  let first = profile.samples.length;
  while (first > 0 && elapsed < micros) elapsed += profile.timeDeltas[--first]!;
  return profile.samples.slice(first);
}

const nameOf = (node: Node) => {
  const { functionName, url, lineNumber } = node.callFrame;
  const file = url.replace(/^file:\/\//, '');
  return { file, name: `${functionName || '(anonymous)'} ${file.split('/').slice(-2).join('/')}:${lineNumber + 1}` };
};

const byFunction = new Map<string, number>();
const byPackage = new Map<string, number>();
for (const node of profile.nodes) {
  const count = hits.get(node.id) ?? 0;
  if (count === 0) continue;
  const { file, name } = nameOf(node);
  const functionName = node.callFrame.functionName;
  const pkg = /node_modules\/\.pnpm\/[^/]+\/node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(file)?.[1] ?? (file.includes('/apps/') || file.includes('/packages/') ? file.split('/').slice(-3).join('/') : file || `(${functionName})`);
  byFunction.set(name, (byFunction.get(name) ?? 0) + count);
  byPackage.set(pkg, (byPackage.get(pkg) ?? 0) + count);
}
const show = (title: string, map: Map<string, number>, of = total) => {
  console.log(`\n${title}`);
  for (const [name, count] of [...map].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`${((count / of) * 100).toFixed(1).padStart(5)} %  ${name}`);
};
show('Self time by package or file', byPackage);
show('Self time by function', byFunction);

// Inclusive time: each sample counts once for every function on its stack.
const parent = new Map<number, Node>();
const byId = new Map(profile.nodes.map((node) => [node.id, node]));
for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node);
const inclusive = new Map<string, number>();
let busy = 0;
for (const [id, count] of hits) {
  const leaf = byId.get(id)!;
  if (leaf.callFrame.functionName === '(idle)') continue;
  busy += count;
  const seen = new Set<string>();
  for (let node: Node | undefined = leaf; node; node = parent.get(node.id)) {
    const { name } = nameOf(node);
    if (node.callFrame.functionName === '(root)' || seen.has(name)) continue;
    seen.add(name);
    inclusive.set(name, (inclusive.get(name) ?? 0) + count);
  }
}
show('Total time by function, with what it called, of the busy samples', inclusive, busy);
