import { figureRows, renderReport } from './report';

describe('the bench report', () => {
  const result = (benchmark: string, figures: Record<string, unknown>) => ({
    benchmark,
    at: '2026-12-07T18:32:05.758Z',
    machine: { cores: 2, cpu: 'AMD EPYC', node: 'v24.19.0', platform: 'linux-x64' },
    ...figures,
  });

  it('flattens nested figures into dotted rows, lists of plain values joined, lists of objects by index', () => {
    expect(figureRows({ rate: 19054, cpu: { matcher: { total: 69 } }, runs: [56, 59], scenarios: [{ name: 'a|b', p99: 3 }], none: null })).toEqual([
      ['rate', '19054'],
      ['cpu.matcher.total', '69'],
      ['runs', '56, 59'],
      ['scenarios.0.name', 'a\\|b'],
      ['scenarios.0.p99', '3'],
      ['none', 'null'],
    ]);
  });

  it('renders a summary line per bench, sorted, then each bench with its machine and figures', () => {
    const page = renderReport([result('scale', { cpuPerUnitRatio: { matcher: 1.26 } }), result('matcher', { ratios: { totalCpuPerEventToFloor: 1.302 } })]);
    const lines = page.split('\n');
    expect(lines.filter((l) => l.startsWith('| ['))).toEqual([
      '| [matcher](#matcher) | 2026-12-07 18:32 UTC | 2 cores, AMD EPYC, Node.js 24.19.0 |',
      '| [scale](#scale) | 2026-12-07 18:32 UTC | 2 cores, AMD EPYC, Node.js 24.19.0 |',
    ]);
    expect(page).toContain(
      '## matcher\n\n2026-12-07 18:32 UTC, 2 cores, AMD EPYC, Node.js 24.19.0.\n\n| figure | value |\n|---|---|\n| ratios.totalCpuPerEventToFloor | 1.302 |\n',
    );
    expect(page).toContain('| cpuPerUnitRatio.matcher | 1.26 |');
    expect(page).not.toContain('machine.cores');
  });
});
