/**
 * npm run bench [-- <name> ...]: runs the named benchmarks (all when none is named), prints the
 * figures and writes them as JSON under bench/results/. `npm run bench -- report` renders those
 * results into bench/REPORT.md (a run of every bench does it at its end).
 */
import { join } from 'node:path';
import { apiBenchmark } from './api.bench';
import { dispatcherBenchmark } from './dispatcher.bench';
import { fairnessBenchmark } from './fairness.bench';
import { kafkaClientsBenchmark } from './kafka-clients.bench';
import { logSinkBenchmark } from './log-sink.bench';
import { matcherBenchmark } from './matcher.bench';
import { pageBenchmark } from './page.bench';
import { pipelineBenchmark } from './pipeline.bench';
import { rulesBenchmark } from './rules.bench';
import { scaleBenchmark } from './scale.bench';
import { storeBenchmark } from './store.bench';
import { writeReport } from './report';

const BENCHMARKS: Record<string, () => Promise<void>> = {
  rules: rulesBenchmark,
  matcher: matcherBenchmark,
  dispatcher: dispatcherBenchmark,
  'log-sink': logSinkBenchmark,
  api: apiBenchmark,
  pipeline: pipelineBenchmark,
  'kafka-clients': kafkaClientsBenchmark,
  store: storeBenchmark,
  page: pageBenchmark,
  scale: scaleBenchmark,
  fairness: fairnessBenchmark,
};

/** Renders bench/results/*.json into bench/REPORT.md. */
function renderReport(): void {
  const file = join(__dirname, 'REPORT.md');
  const count = writeReport(join(__dirname, 'results'), file);
  process.stdout.write(`the figures of ${count} bench(es) rendered to ${file}\n`);
}

async function main(): Promise<void> {
  const names = process.argv.slice(2);
  if (names.length === 1 && names[0] === 'report') return renderReport();
  const unknown = names.filter((n) => !BENCHMARKS[n]);
  if (unknown.length > 0) {
    process.stderr.write(`unknown benchmark(s): ${unknown.join(', ')}; available: ${Object.keys(BENCHMARKS).join(', ')} (or report alone)\n`);
    process.exit(2);
  }
  for (const name of names.length > 0 ? names : Object.keys(BENCHMARKS)) await BENCHMARKS[name]();
  if (names.length === 0) renderReport();
}

main().catch((err: Error) => {
  process.stderr.write(`${err.stack ?? err.message}\n`);
  process.exit(1);
});
