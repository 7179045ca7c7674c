import type { Consumer, Kafka } from 'kafkajs';

/** A `read_committed` group consumer, and the partitions it owns as the group last assigned them. */
export interface GroupConsumer {
  consumer: Consumer;
  /** The partitions owned, by topic; undefined while joining or rebalancing. */
  assignment(): Record<string, number[]> | undefined;
}

/**
 * Creates a `read_committed` consumer whose heartbeat is a tenth of its session timeout, and
 * tracks its assignment (health endpoints report it, so scaling can be observed).
 * `onJoin` runs on every (re)join, before the first batch of the new generation.
 */
export function createGroupConsumer(
  kafka: Kafka,
  opts: { groupId: string; sessionTimeoutMs?: number; maxWaitTimeInMs?: number; onJoin?: (assigned: Record<string, number[]>) => void },
): GroupConsumer {
  const sessionTimeout = opts.sessionTimeoutMs ?? 30_000;
  const consumer = kafka.consumer({
    groupId: opts.groupId,
    readUncommitted: false,
    maxWaitTimeInMs: opts.maxWaitTimeInMs ?? 1000,
    sessionTimeout,
    heartbeatInterval: Math.max(500, Math.floor(sessionTimeout / 10)),
  });
  let assigned: Record<string, number[]> | undefined;
  const { GROUP_JOIN, REBALANCING, STOP, CRASH } = consumer.events;
  consumer.on(GROUP_JOIN, (e) => {
    assigned = e.payload.memberAssignment;
    opts.onJoin?.(assigned);
  });
  for (const event of [REBALANCING, STOP, CRASH]) consumer.on(event, () => (assigned = undefined));
  return { consumer, assignment: () => assigned };
}
