import { setUpInfra } from './global-setup';

/** The system fault suite's own servers (the `faults` profile): it restarts its broker, so it shares them with nothing. */
export default function faultsSetup(): Promise<void> {
  return setUpInfra('faults');
}
