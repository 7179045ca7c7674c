import { Double, Int32, Long, ObjectId, type Collection, type Document, type Sort } from 'mongodb';
import { ensureEventLogIndexes, eventLogsCollection, triggerLogsPage } from '@triggers/mongo';
import { useTestContext } from '@triggers/testing';

/**
 * The embedded store's pushdown (deploy/local/ferretdb-patches/002): conditions and orders on
 * top-level fields are served by indexes built on sort keys. Whatever it pushes down, the answer
 * must be the one FerretDB's handler gives alone: the reference is the same filter behind `$and`
 * (which pushes nothing down) in an aggregation (whose `$sort` is the handler's).
 */
describe('the embedded store answers from its indexes exactly as without them', () => {
  const ctx = useTestContext();

  /** A seeded generator, so a failure names the seed that reproduces it. */
  function random(seed: number): () => number {
    let s = seed;
    return () => {
      s = (s * 1103515245 + 12345) % 2147483648;
      return s / 2147483648;
    };
  }

  function generator(seed: number) {
    const rnd = random(seed);
    const pick = <T>(a: T[]): T => a[Math.floor(rnd() * a.length)];
    const t0 = Date.UTC(2026, 0, 1);
    // Every type the sort key orders, those it leaves to the handler, and the edge values of each.
    const scalar = (): unknown =>
      pick<() => unknown>([
        () => null,
        () => new Int32(Math.floor(rnd() * 5)),
        () => new Double(Math.floor(rnd() * 5) + pick([0, 0.5])),
        () => Long.fromNumber(Math.floor(rnd() * 5)),
        () => new Double(-0),
        () => Long.fromString('9007199254740993'),
        () => pick(['a', 'b', 'c', '', 'ab', 'é']),
        () => new Date(t0 + Math.floor(rnd() * 5) * 1000),
        () => new Date(-1000),
        () => pick([true, false]),
        () => new ObjectId('0000000000000000000000' + pick(['01', '02', 'ff'])),
      ])();
    const value = (): unknown => {
      const r = rnd();
      if (r < 0.05) return undefined;
      if (r < 0.12) return [scalar(), scalar()];
      if (r < 0.15) return [];
      if (r < 0.18) return { x: scalar() };
      return scalar();
    };
    const condition = (): unknown => {
      const r = rnd();
      if (r < 0.4) return scalar();
      if (r < 0.5) return { $eq: scalar() };
      if (r < 0.6) return { $in: [scalar(), scalar()] };
      if (r < 0.7) return { $gt: scalar(), $lte: scalar() };
      return { [pick(['$gt', '$gte', '$lt', '$lte'])]: scalar() };
    };
    return { rnd, pick, value, condition };
  }

  async function seeded(seed: number, docs: number): Promise<{ coll: Collection; g: ReturnType<typeof generator> }> {
    const { db } = await ctx().mongo();
    const coll = db.collection(`docs${seed}`);
    const g = generator(seed);
    const rows: Document[] = [];
    for (let i = 0; i < docs; i++) {
      const d: Document = { _id: `d${String(i).padStart(4, '0')}`, n: i % 7 };
      for (const f of ['a', 'b', 't']) {
        const v = g.value();
        if (v !== undefined) d[f] = v;
      }
      rows.push(d);
    }
    // Half the documents before the indexes, half after: both ways of building an index's keys.
    await coll.insertMany(rows.slice(0, docs / 2));
    await coll.createIndex({ a: 1, b: 1, t: -1 });
    await coll.createIndex({ b: 1 });
    await coll.insertMany(rows.slice(docs / 2));
    return { coll, g };
  }

  function randomQuery(g: ReturnType<typeof generator>): { filter: Document; sort: Sort & Record<string, 1 | -1>; limit: number } {
    const filter: Document = {};
    for (const f of ['a', 'b', 't', 'n']) if (g.rnd() < 0.5) filter[f] = f === 'n' ? Math.floor(g.rnd() * 7) : g.condition();
    if (g.rnd() < 0.25) {
      const id = () => `d${String(Math.floor(g.rnd() * 520)).padStart(4, '0')}`;
      filter._id = g.pick<() => unknown>([
        id,
        () => ({ $gt: id() }),
        () => ({ $lte: id() }),
        () => ({ $in: [id(), id(), id()] }),
        () => ({ $in: [id(), 7] }),
      ])();
    }
    const sort: Record<string, 1 | -1> = {};
    for (const f of ['t', 'a', 'b']) if (g.rnd() < 0.4) sort[f] = g.pick([1, -1]);
    sort._id = g.pick([1, -1]);
    return { filter, sort, limit: g.pick([0, 1, 5, 50]) };
  }

  const ids = (docs: Document[]): string[] => docs.map((d) => String(d._id));

  it.each([11, 12])('finds, sorts, limits and counts the same for 200 random queries (seed %i)', async (seed) => {
    const { coll, g } = await seeded(seed, 500);
    const mismatches: string[] = [];
    for (let q = 0; q < 200; q++) {
      const { filter, sort, limit } = randomQuery(g);
      const found = await coll.find(filter).sort(sort).limit(limit).toArray();
      const reference = await coll.aggregate([{ $match: { $and: [filter] } }, { $sort: sort }, ...(limit ? [{ $limit: limit }] : [])]).toArray();
      const count = await coll.countDocuments(filter);
      const referenceCount = (await coll.aggregate([{ $match: { $and: [filter] } }]).toArray()).length;
      if (JSON.stringify(ids(found)) !== JSON.stringify(ids(reference)) || count !== referenceCount) {
        mismatches.push(
          `${JSON.stringify(filter)} sort ${JSON.stringify(sort)} limit ${limit}: ${ids(found).join(',')} (${count}) != ${ids(reference).join(',')} (${referenceCount})`,
        );
      }
    }
    expect(mismatches).toEqual([]);
  });

  it('updates and deletes exactly the documents its filter matches', async () => {
    const { coll, g } = await seeded(13, 400);
    for (let q = 0; q < 40; q++) {
      const { filter } = randomQuery(g);
      const expected = ids(await coll.aggregate([{ $match: { $and: [filter] } }, { $sort: { _id: 1 } }]).toArray());
      const updated = await coll.updateMany(filter, { $set: { touched: q } });
      expect(updated.matchedCount).toBe(expected.length);
      expect(ids(await coll.find({ touched: q }).sort({ _id: 1 }).toArray())).toEqual(expected);
      if (q % 4 === 0) {
        const deleted = await coll.deleteMany(filter);
        expect(deleted.deletedCount).toBe(expected.length);
        expect(await coll.countDocuments({ _id: { $in: expected } } as Document)).toBe(0);
      }
    }
  });

  it('groups by value as MongoDB does: numbers of any type together, null with missing, documents by keys and values (deploy/local/ferretdb-patches/003)', async () => {
    const { db } = await ctx().mongo();
    const coll = db.collection('groups');
    const values: unknown[] = [
      new Int32(1),
      new Double(1),
      Long.fromNumber(1),
      new Double(1.5),
      Long.fromString('9007199254740993'),
      Long.fromString('9007199254740993'),
      new Double(-0),
      new Int32(0),
      'x',
      'x',
      'X',
      null,
      undefined,
      new Date(5),
      new Date(5),
      { h: new Int32(2), s: 'a' },
      { h: new Double(2), s: 'a' },
      { s: 'a', h: new Int32(2) },
      [1, 2],
      [1, 2],
    ];
    await coll.insertMany(values.map((v, i) => (v === undefined ? { _id: i } : { _id: i, v })) as never[]);
    const groups = await coll.aggregate<{ _id: { v: unknown }; n: number }>([{ $group: { _id: { v: '$v' }, n: { $sum: 1 } } }]).toArray();
    const counts = groups.map((g) => `${JSON.stringify(g._id.v, (_, v: unknown) => (v instanceof Long ? v.toString() : v))}:${g.n}`).sort();
    expect(counts).toEqual(
      [
        '1:3',
        '1.5:1',
        '"9007199254740993":2',
        '0:2',
        '"x":2',
        '"X":1',
        'null:2',
        '"1970-01-01T00:00:00.005Z":2',
        '{"h":2,"s":"a"}:2',
        '{"s":"a","h":2}:1',
        '[1,2]:2',
      ].sort(),
    );
  });

  it("serves each of the apps' event-log and lead queries from an index, the page's order included", async () => {
    const { db } = await ctx().mongo();
    const logs = eventLogsCollection(db);
    await ensureEventLogIndexes(logs);
    await logs.createIndex({ time: 1 }, { name: 'retention' }); // the log-sink's (FerretDB takes no expireAfterSeconds)
    const t0 = Date.UTC(2026, 0, 1);
    const at = (s: number) => new Date(t0 + s * 1000);
    await logs.insertMany(
      Array.from({ length: 2_000 }, (_, i) => ({
        _id: `r${String(i).padStart(4, '0')}`,
        tenantId: `t${i % 2}`,
        triggerId: `g${i % 4}`,
        commandId: `c${i}`,
        step: i % 3 === 0 ? 'webhook.attempt' : 'webhook.delivered',
        status: i % 3 === 0 ? 'failed' : 'ok',
        time: at(Math.floor(i / 8)), // ties on time, settled by _id
        nextDueAt: i % 3 === 0 ? at(i + 600) : null,
      })) as never[],
    );
    await db.collection('leads').insertMany([{ _id: 'a/1' }, { _id: 'a/2' }, { _id: 'a/3' }] as never[]);
    const planOf = async (explained: Promise<Document>) => ((await explained) as { queryPlanner?: { Plan?: string[] } }).queryPlanner?.Plan ?? [];
    const page = { tenantId: 't1', triggerId: 'g3' };
    const plans = {
      page: await planOf(logs.find(page).sort({ time: -1, _id: -1 }).limit(50).explain()),
      failedPage: await planOf(
        logs
          .find({ ...page, status: 'failed' })
          .sort({ time: -1, _id: -1 })
          .limit(50)
          .explain(),
      ),
      nextPage: await planOf(
        logs
          .find({ ...page, time: { $lte: at(200) }, $or: [{ time: { $lt: at(200) } }, { time: at(200), _id: { $lt: 'r1603' } }] })
          .sort({ time: -1, _id: -1 })
          .limit(50)
          .explain(),
      ),
      stats: await planOf(
        logs
          .aggregate([
            { $match: { ...page, time: { $gte: at(0), $lte: at(250) }, step: { $in: ['webhook.attempt', 'webhook.delivered'] } } },
            { $group: { _id: '$step', n: { $sum: 1 } } },
          ])
          .explain(),
      ),
      waitingRetries: await planOf(logs.find({ ...page, step: 'webhook.attempt', nextDueAt: { $gt: at(1000) } }).explain()),
      selection: await planOf(logs.find({ ...page, time: { $gte: at(0), $lte: at(250) }, step: { $in: ['webhook.attempt'] }, status: 'failed' }).explain()),
      redeliveredSince: await planOf(logs.find({ tenantId: 't1', commandId: { $in: ['c1', 'c3'] }, step: 'webhook.delivered' }).explain()),
      byIds: await planOf(
        db
          .collection('leads')
          .find({ _id: { $in: ['a/1', 'a/2'] } } as Document)
          .explain(),
      ),
      retention: await planOf(logs.find({ time: { $lt: at(10) } }).explain()),
    };
    for (const [query, plan] of Object.entries(plans)) {
      expect({ query, read: plan.length > 0, plan: plan.filter((line) => !/SEARCH \S+ USING (COVERING )?INDEX/.test(line)) }).toEqual({
        query,
        read: true,
        plan: [],
      });
    }
    // The page's order comes from the index, in the statement that reads it: no sort of the trigger's rows.
    expect(plans.page.filter((l) => l.startsWith('matched:')).join('\n')).toMatch(
      /USING INDEX \S+_tenantId_1_triggerId_1_time_-1__id_-1 \(<expr>=\? AND <expr>=\?\)/,
    );
    expect(plans.page.join('\n')).not.toMatch(/TEMP B-TREE/);
    expect(plans.failedPage.filter((l) => l.startsWith('matched:')).join('\n')).toMatch(
      /USING INDEX \S+_status_1_time_-1__id_-1 \(<expr>=\? AND <expr>=\? AND <expr>=\?\)/,
    );
    expect(plans.byIds.join('\n')).toMatch(/USING INDEX \S+__id_ \(<expr>=\?\)/);

    const first = await triggerLogsPage(logs, 't1', 'g3', {}, 5);
    const reference = await logs.aggregate([{ $match: { $and: [page] } }, { $sort: { time: -1, _id: -1 } }]).toArray();
    expect(ids(first)).toEqual(ids(reference.slice(0, 5)));
    const last = first[first.length - 1];
    const second = await triggerLogsPage(logs, 't1', 'g3', { after: { time: last.time, id: last._id } }, 5);
    expect(ids(second)).toEqual(ids(reference.slice(5, 10)));
  });
});
