import { chunkBySize } from './partition-transactions';

describe('chunkBySize', () => {
  const msg = (bytes: number) => ({ key: 'k', value: Buffer.alloc(bytes) });

  it('keeps every chunk under the limit and every message in order', () => {
    const messages = Array.from({ length: 1000 }, (_, i) => ({ key: String(i), value: Buffer.alloc(900) }));
    const chunks = chunkBySize(messages, 64 * 1024);
    expect(chunks.length).toBeGreaterThan(10);
    for (const c of chunks) expect(c.reduce((n, m) => n + String(m.key).length + (m.value as Buffer).length + 64, 0)).toBeLessThanOrEqual(64 * 1024);
    expect(chunks.flat()).toEqual(messages);
  });

  it('puts a message larger than the limit in a chunk of its own and nothing in empty input', () => {
    expect(chunkBySize([msg(10), msg(5000), msg(10)], 1000).map((c) => c.length)).toEqual([1, 1, 1]);
    expect(chunkBySize([], 1000)).toEqual([]);
  });
});
