import { setUpInfra } from './global-setup';

/**
 * The scale-out suite's servers (the `cluster` profile: three Kafka nodes, which it restarts and
 * kills, so it shares them with nothing). Its topics keep three replicas, `min.insync.replicas` 2,
 * and six partitions, so three instances of an app each hold two and a fourth still gets work.
 */
export default function scaleSetup(): Promise<void> {
  return setUpInfra('cluster', { TOPIC_REPLICATION_FACTOR: '3', TOPIC_PARTITIONS: '6' });
}
