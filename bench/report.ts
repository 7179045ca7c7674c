import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** One bench's result file as `report()` writes it. */
interface BenchResult {
  benchmark: string;
  at: string;
  machine: { cores: number; cpu: string; node: string; platform: string };
  [figure: string]: unknown;
}

/** A figure's value as one table cell: numbers as they are, a list of plain values joined. */
function cell(value: unknown): string {
  if (Array.isArray(value)) return value.map(cell).join(', ');
  if (value === null) return 'null';
  return String(value).replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

/** The figures of a result as rows (dotted path, value), nested objects and lists of objects flattened, in the order written. */
export function figureRows(value: unknown, path = ''): [string, string][] {
  const plainList = Array.isArray(value) && value.every((v) => v === null || typeof v !== 'object');
  if (value === null || typeof value !== 'object' || plainList) return [[path, cell(value)]];
  const entries = Array.isArray(value) ? value.map((v, i) => [String(i), v] as const) : Object.entries(value);
  return entries.flatMap(([key, v]) => figureRows(v, path === '' ? key : `${path}.${key}`));
}

/** The results as one Markdown page: a summary table, then each bench's figures as measured. */
export function renderReport(results: BenchResult[]): string {
  const sorted = [...results].sort((a, b) => a.benchmark.localeCompare(b.benchmark));
  const when = (r: BenchResult) => r.at.replace('T', ' ').replace(/:\d\d\.\d+Z$/, ' UTC');
  const on = (r: BenchResult) => `${r.machine.cores} cores, ${r.machine.cpu}, Node.js ${r.machine.node.replace(/^v/, '')}`;
  const lines = [
    '# Benchmark figures',
    '',
    'Rendered by `npm run bench -- report` from `bench/results/*.json`, the last run of each bench on',
    'the machine named; do not edit it by hand. What each figure means, its floor and its goal are in',
    'the README (Benchmarks) and in the bench itself. Figures measured on different machines or days',
    'do not compare: compare a figure with its floor from the same run.',
    '',
    '| bench | measured | machine |',
    '|---|---|---|',
    ...sorted.map((r) => `| [${r.benchmark}](#${r.benchmark}) | ${when(r)} | ${on(r)} |`),
  ];
  for (const r of sorted) {
    const { benchmark, at: _at, machine: _machine, ...figures } = r;
    lines.push('', `## ${benchmark}`, '', `${when(r)}, ${on(r)}.`, '', '| figure | value |', '|---|---|');
    for (const [path, value] of figureRows(figures)) lines.push(`| ${path} | ${value} |`);
  }
  return `${lines.join('\n')}\n`;
}

/** Reads every result under `resultsDir` and writes the page to `file`; returns how many benches it holds. */
export function writeReport(resultsDir: string, file: string): number {
  const results = readdirSync(resultsDir)
    .filter((f) => f.endsWith('.json'))
    .map((f) => JSON.parse(readFileSync(join(resultsDir, f), 'utf8')) as BenchResult)
    .filter((r) => typeof r.benchmark === 'string' && typeof r.at === 'string' && r.machine !== undefined);
  writeFileSync(file, renderReport(results));
  return results.length;
}
