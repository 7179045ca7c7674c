import { finishedWithin } from './group-consumer';

describe('finishedWithin (a stop that must not hang on a dependency that is down)', () => {
  it('is true for work that settles in time, resolved or rejected', async () => {
    expect(await finishedWithin(Promise.resolve('left'), 1000)).toBe(true);
    expect(await finishedWithin(Promise.reject(new Error('coordinator gone')), 1000)).toBe(true);
  });

  it('is false, once the time is up, for work still running, which goes on without being waited for', async () => {
    let settle!: () => void;
    const hanging = new Promise<void>((resolve) => (settle = resolve));
    const started = Date.now();
    expect(await finishedWithin(hanging, 50)).toBe(false);
    expect(Date.now() - started).toBeLessThan(1000);
    settle();
  });
});
