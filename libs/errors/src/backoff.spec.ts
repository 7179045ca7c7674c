import { backoffDelays, retryWithBackoff } from './backoff';

describe('backoff', () => {
  it('doubles from the first delay up to the cap', () => {
    const delays = backoffDelays(500, 5_000);
    expect(Array.from({ length: 7 }, () => delays.next().value)).toEqual([500, 1000, 2000, 4000, 5000, 5000, 5000]);
  });

  it('tries until the attempt succeeds, reporting each failure with the wait before the next try', async () => {
    const failures: [string, number][] = [];
    let tries = 0;
    const ok = await retryWithBackoff(
      async () => {
        if (++tries < 3) throw new Error(`down ${tries}`);
      },
      { firstMs: 1, maxMs: 2, onFailure: (err, retryInMs) => void failures.push([(err as Error).message, retryInMs]) },
    );
    expect(ok).toBe(true);
    expect(tries).toBe(3);
    expect(failures).toEqual([
      ['down 1', 1],
      ['down 2', 2],
    ]);
  });

  it('stops when asked: by stopped(), by onFailure answering false, or by onFailure throwing', async () => {
    let tries = 0;
    const failing = async () => {
      tries++;
      throw new Error('down');
    };
    expect(await retryWithBackoff(failing, { firstMs: 1, maxMs: 1, stopped: () => tries >= 2, onFailure: () => undefined })).toBe(false);
    expect(tries).toBe(2);
    expect(await retryWithBackoff(failing, { firstMs: 1, maxMs: 1, onFailure: () => false })).toBe(false);
    expect(tries).toBe(3);
    await expect(
      retryWithBackoff(failing, {
        firstMs: 1,
        maxMs: 1,
        onFailure: (err) => {
          throw err;
        },
      }),
    ).rejects.toThrow('down');
    expect(tries).toBe(4);
  });
});
