import { Registry } from 'prom-client';
import type { ApiConfig } from '@triggers/config';
import { HEADERS, resolveTopicNames, triggerKey } from '@triggers/contracts';
import type { CompactedTopicReaderOptions } from '@triggers/kafka';
import { createLogger } from '@triggers/logging';
import { HealthRegistry } from '@triggers/runtime';
import type { ConfigPublisher } from './config-publisher.service';
import { ConfigReconciler } from './config-reconciler.service';
import type { TriggerDocument, TriggerRepository } from '../trigger-store/trigger.repository';

/** The config topic, faked: what is sent lands on it, and a reader sees it once it syncs to the end. */
const topic = {
  records: [] as { key: string; value: unknown; headers: Record<string, Buffer> }[],
  reader: undefined as CompactedTopicReaderOptions<unknown> | undefined,
  applied: 0,
};
const sent: { key: string; value: unknown }[] = [];

jest.mock('@triggers/kafka', () => ({
  CompactedTopicReader: class {
    status = { alive: true };
    constructor(options: CompactedTopicReaderOptions<unknown>) {
      topic.reader = options;
    }
    async syncToEnd(): Promise<void> {
      for (; topic.applied < topic.records.length; topic.applied++) {
        const r = topic.records[topic.applied];
        topic.reader!.apply(r.key, r.value as never, String(topic.applied), r.headers);
      }
    }
  },
  LazyProducer: class {
    async get() {
      return {
        send: async ({ messages }: { messages: { key: string; value: unknown }[] }) => {
          for (const m of messages) {
            sent.push(m);
            topic.records.push({ key: m.key, value: m.value, headers: {} });
          }
        },
      };
    }
  },
}));

/**
 * The reconciler reads the topic, then the store. A change another publisher sends in between
 * (the start-up re-drive, a request on another instance) is on neither snapshot's side: it must
 * be judged again, never published twice nor deleted from the topic.
 */
describe('ConfigReconciler', () => {
  const config = { kafka: { topics: resolveTopicNames('unit'), namespace: 'unit' }, redriveIntervalMs: 60_000 } as unknown as ApiConfig;
  const doc = (id: string, over: Partial<TriggerDocument> = {}) =>
    ({ _id: id, tenantId: 'acme', version: 1, revision: `rev-${id}`, deleted: false, dirty: false, ...over }) as TriggerDocument;
  const publish = (d: TriggerDocument) =>
    topic.records.push({
      key: triggerKey(d.tenantId, d._id),
      value: {},
      headers: { [HEADERS.version]: Buffer.from(String(d.version)), [HEADERS.revision]: Buffer.from(d.revision ?? '') },
    });

  let stored: Map<string, TriggerDocument>;
  /** What another publisher does just before, and just after, the store is listed. */
  let beforeList: () => void;
  let afterList: () => void;
  const repository = {
    all: async () => {
      beforeList();
      const listed = [...stored.values()].map((d) => ({ ...d }));
      afterList();
      beforeList = afterList = () => undefined;
      return listed;
    },
    findAnyById: async (id: string) => stored.get(id) ?? null,
    markDirty: async (id: string) => void (stored.get(id)!.dirty = true),
  } as unknown as TriggerRepository;
  const synced: string[] = [];
  const publisher = { sync: async (id: string) => void synced.push(id) } as unknown as ConfigPublisher;
  const reconciler = () =>
    new ConfigReconciler(
      repository,
      publisher,
      {} as never,
      {} as never,
      config,
      createLogger({ app: 'test', level: 'silent' }),
      new Registry(),
      new HealthRegistry(),
    );

  beforeEach(() => {
    topic.records = [];
    topic.applied = 0;
    sent.length = 0;
    synced.length = 0;
    stored = new Map();
    beforeList = afterList = () => undefined;
  });

  it('does not publish again a change published between its read of the topic and of the store', async () => {
    const r = reconciler();
    const t = doc('t1', { dirty: true });
    stored.set(t._id, t);
    // The re-drive sends it and marks it published after the pass read the topic, before it lists the store.
    beforeList = () => {
      publish(t);
      t.dirty = false;
    };
    expect(await r.reconcile()).toBe(0);
    expect(synced).toEqual([]);
  });

  it('does not delete from the topic a trigger created after it listed the store', async () => {
    const r = reconciler();
    const t = doc('t2');
    afterList = () => {
      stored.set(t._id, t);
      publish(t);
    };
    // The topic is read again for another suspect after the list: the new trigger is then on it.
    const suspect = doc('t3', { version: 2 });
    stored.set(suspect._id, suspect);
    publish({ ...suspect, version: 1 });
    expect(await r.reconcile()).toBe(1);
    expect(synced).toEqual(['t3']);
    expect(sent).toEqual([]);
  });

  it('still repairs what really differs: a stale record is published again, a key not stored is deleted', async () => {
    const r = reconciler();
    const stale = doc('t4', { version: 3 });
    stored.set(stale._id, stale);
    publish({ ...stale, version: 2 });
    publish(doc('gone'));
    expect(await r.reconcile()).toBe(2);
    expect(synced).toEqual(['t4']);
    expect(sent).toEqual([{ key: triggerKey('acme', 'gone'), value: null }]);
  });
});
