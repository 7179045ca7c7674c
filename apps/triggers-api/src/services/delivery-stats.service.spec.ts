import { percentile } from './delivery-stats.service';

describe('latency percentiles from a histogram of durations', () => {
  /** The nearest-rank percentile of the durations themselves, the reference. */
  const nearestRank = (durations: number[], q: number) => {
    const sorted = [...durations].sort((a, b) => a - b);
    return sorted.length === 0 ? null : sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
  };
  const histogramOf = (durations: number[]) =>
    [...durations.reduce((m, d) => m.set(d, (m.get(d) ?? 0) + 1), new Map<number, number>())].sort(([a], [b]) => a - b);

  it('is null with no delivered attempt', () => {
    expect(percentile([], 0.5)).toBeNull();
  });

  it('gives the nearest rank of the durations, however they repeat', () => {
    for (const durations of [[7], [5, 5, 5, 9], [1, 2, 3, 4, 5, 6, 7, 8, 9, 10], [120, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 900]]) {
      for (const q of [0.5, 0.95]) expect({ durations, q, p: percentile(histogramOf(durations), q) }).toEqual({ durations, q, p: nearestRank(durations, q) });
    }
  });
});
