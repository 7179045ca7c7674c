import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { logIdFor } from './log-records';
import { commandIdFor } from './webhook-commands';

/** The ids as first written (a Hash object over the parts joined by NUL): records and commands made before must keep their ids. */
const sha = (text: string) => createHash('sha256').update(text).digest('hex').slice(0, 32);

describe('deterministic ids', () => {
  it('log ids are the ones every earlier version made from the same parts', () => {
    const part = fc.oneof(fc.string(), fc.integer(), fc.constant(null), fc.constant(undefined));
    fc.assert(
      fc.property(fc.array(part, { maxLength: 6 }), (parts) => {
        expect(logIdFor(...parts)).toBe(`log_${sha(parts.map((p) => String(p ?? '')).join('\u0000'))}`);
      }),
      { numRuns: 1000 },
    );
    expect(logIdFor('cmd_1', 'event', 1795989147334, 0, 'webhook.attempt')).toBe(
      `log_${sha('cmd_1\u0000event\u00001795989147334\u00000\u0000webhook.attempt')}`,
    );
  });

  it('command ids are the ones every earlier version made', () => {
    fc.assert(
      fc.property(fc.string(), fc.string(), fc.nat(5), (eventId, triggerId, actionIndex) => {
        expect(commandIdFor(eventId, triggerId, actionIndex)).toBe(`cmd_${sha(`${eventId}\u0000${triggerId}\u0000${actionIndex}`)}`);
      }),
      { numRuns: 1000 },
    );
  });
});
