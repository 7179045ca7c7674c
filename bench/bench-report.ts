import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';

/** The machine a figure was measured on; figures mean little without it. */
export function machine() {
  const cpu = cpus();
  return { cores: cpu.length, cpu: cpu[0]?.model ?? 'unknown', node: process.version, platform: `${process.platform}-${process.arch}` };
}

/** Percentile of sorted numbers (nearest rank). */
export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

/** The middle value (the mean of the two middle ones for an even count). */
export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** Of figures by process (one record per run), the run whose `key` figure is the median: its other processes' figures come with it. */
export function medianRun(runs: Record<string, number>[], key: string): Record<string, number> {
  const sorted = [...runs].sort((a, b) => a[key] - b[key]);
  return sorted[Math.floor(sorted.length / 2)];
}

/**
 * Runs two scenarios `pairs` times each, in turn, alternating which goes first (a, b, then b, a…):
 * later runs of a bench measure slower on this shared machine, so neither may always run second.
 */
export async function inAlternatingPairs(pairs: number, a: (run: number) => Promise<void>, b: (run: number) => Promise<void>): Promise<void> {
  for (let run = 0; run < pairs; run++) for (const step of run % 2 === 0 ? [a, b] : [b, a]) await step(run);
}

/**
 * Runs of a bare baseline (pass-through, raw client) per benchmark: a single run of a fraction of
 * a second swings widely on a shared machine, the median of three much less.
 */
export const BASELINE_RUNS = 3;

/** An app process's resident memory, and where it is: the V8 heap (used of total) and Buffers outside it, in MB, from its /metrics. */
export async function appMemoryMB(port: number): Promise<{ rss: number; heapUsed: number; heapTotal: number; external: number }> {
  const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const mb = (name: string) => +(Number(new RegExp(`triggers_${name}\\{[^}]*\\} (\\d+)`).exec(metrics)?.[1] ?? NaN) / 2 ** 20).toFixed(1);
  return {
    rss: mb('process_resident_memory_bytes'),
    heapUsed: mb('nodejs_heap_size_used_bytes'),
    heapTotal: mb('nodejs_heap_size_total_bytes'),
    external: mb('nodejs_external_memory_bytes'),
  };
}

/** Prints the figures and writes them to bench/results/<name>.json. */
export function report(name: string, figures: Record<string, unknown>): void {
  const result = { benchmark: name, at: new Date().toISOString(), machine: machine(), ...figures };
  const dir = join(__dirname, 'results');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${name}.json`);
  writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);
  process.stdout.write(`${JSON.stringify(result, null, 2)}\nwritten to ${file}\n`);
}

/**
 * The apps' runtime settings (deploy/run-app.sh), each left out in turn: `BENCH_RUNTIME=1 npm run
 * bench -- matcher dispatcher` runs the app once per variant and round, rotating which goes
 * first, and reports each variant's median CPU per unit and resident memory, so every setting is
 * kept or dropped by what it does on the Node this runs on.
 */
export const RUNTIME_VARIANTS: { name: string; env: Record<string, string> }[] = [
  { name: 'as deploy/run-app.sh sets them', env: {} },
  { name: 'without --max-semi-space-size=8', env: { NODE_HEAP_FLAGS: '--max-old-space-size=1536' } },
  { name: 'without --max-old-space-size=1536', env: { NODE_HEAP_FLAGS: '--max-semi-space-size=8' } },
  { name: 'without either heap flag', env: { NODE_HEAP_FLAGS: '' } },
  { name: "glibc's own mmap threshold", env: { MALLOC_MMAP_THRESHOLD_: 'glibc' } },
];

/** Rounds of the runtime variants (BENCH_RUNTIME_ROUNDS): three, so each variant's median is of three runs. */
export const RUNTIME_ROUNDS = Number(process.env.BENCH_RUNTIME_ROUNDS ?? 3);

/** Runs `measure` for every runtime variant `rounds` times (the order rotating each round) and reports the medians. */
export async function compareRuntimeVariants(
  name: string,
  unit: string,
  rounds: number,
  measure: (env: Record<string, string>, label: string) => Promise<{ cpu: number; rssMB: number }>,
): Promise<void> {
  const results = RUNTIME_VARIANTS.map(() => ({ cpu: [] as number[], rssMB: [] as number[] }));
  for (let round = 0; round < rounds; round++) {
    for (let k = 0; k < RUNTIME_VARIANTS.length; k++) {
      const i = (k + round) % RUNTIME_VARIANTS.length;
      process.stderr.write(`${name}, ${RUNTIME_VARIANTS[i].name} (round ${round + 1} of ${rounds})\n`);
      const { cpu, rssMB } = await measure(RUNTIME_VARIANTS[i].env, `rt${round}-${i}`);
      results[i].cpu.push(cpu);
      results[i].rssMB.push(rssMB);
    }
  }
  const variants = RUNTIME_VARIANTS.map((v, i) => ({
    variant: v.name,
    env: v.env,
    [`cpuMicroseconds${unit}`]: Math.round(median(results[i].cpu)),
    rssMB: +median(results[i].rssMB).toFixed(1),
    runs: results[i],
  }));
  for (const v of variants) process.stderr.write(`${v.variant}: ${JSON.stringify({ cpu: v[`cpuMicroseconds${unit}`], rssMB: v.rssMB })}\n`);
  report(`${name}-runtime`, { rounds, variants });
}
