import { parseRetryWindow } from './retry-window';

describe("a webhook action's retryWindow", () => {
  it.each([
    [10, 10],
    [30, 30],
    [2880, 2880],
    ['PT30M', 30],
    ['pt2h', 120],
    ['PT1H30M', 90],
    ['P1DT12H', 2160],
    ['P2D', 2880],
    ['PT600S', 10],
    [' PT48H ', 2880],
  ])('reads %j as %i minutes', (raw, minutes) => {
    expect(parseRetryWindow(raw)).toEqual({ minutes });
  });

  it.each([9, 2881, 30.5, 0, -10, 'PT9M', 'PT48H1M', 'P3D', 'PT90S', 'P', 'PT', '30', '30m', 'P1W', '', null, true, {}, [30]])(
    'refuses %j with what it expects',
    (raw) => {
      expect(parseRetryWindow(raw)).toEqual({
        problem: expect.stringMatching(/^retryWindow must be from 10 minutes to 48 hours, as minutes \(30\) or an ISO-8601 duration/),
      });
    },
  );
});
