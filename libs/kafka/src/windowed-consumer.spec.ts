import { OutputCollector } from './partition-transactions';
import { PartitionWindow } from './windowed-consumer';

describe('PartitionWindow', () => {
  const made = (value: string) => {
    const out = new OutputCollector();
    out.push('log', { value });
    return out;
  };
  const values = (out: OutputCollector) => out.byTopic().flatMap((t) => t.messages.map((m) => String(m.value)));
  /** A window whose committed offset is `floor`, with `offsets` taken. */
  const windowWith = (floor: bigint, offsets: bigint[]) => {
    const w = new PartitionWindow({ topic: 'in', partition: 0 });
    w.dropBelow(floor);
    for (const offset of offsets) w.take(offset);
    return w;
  };

  it('commits the finished run at its head, and gives it again whole while its commit has not gone through', () => {
    const w = windowWith(10n, [10n, 11n, 12n]);
    w.finish(10n, made('a'));
    w.finish(12n, made('c'));
    // 11 is still running: only 10 is committable.
    let head = w.head();
    expect({ count: head.count, next: head.nextOffset, made: values(head.out) }).toEqual({ count: 1, next: 11n, made: ['a'] });
    w.finish(11n, made('b'));
    head = w.head();
    expect({ count: head.count, next: head.nextOffset, made: values(head.out) }).toEqual({ count: 3, next: 13n, made: ['a', 'b', 'c'] });
    // That commit failed: the next one carries everything again.
    head = w.head();
    expect(values(head.out)).toEqual(['a', 'b', 'c']);
    w.committedHead(head.count, head.nextOffset);
    expect(w.committed).toBe(13n);
    expect(w.head()).toMatchObject({ count: 0, nextOffset: 13n });
  });

  it('forgets what lies below a floor another commit reached', () => {
    const w = windowWith(0n, [0n, 1n, 2n]);
    w.finish(0n, made('a'));
    w.finish(1n, made('b'));
    w.dropBelow(2n);
    w.finish(2n, made('c'));
    expect(values(w.head().out)).toEqual(['c']);
    expect(w.head().nextOffset).toBe(3n);
  });
});
