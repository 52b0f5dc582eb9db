/**
 * Load for the suite: the repository's one generator (scripts/src/load.ts), an open loop that keeps its rate when
 * the system slows down and a closed loop bounded in flight.
 */
export { agentFor, runClosedLoop, runOpenLoop, sendRequest, type OpenLoopOptions, type RequestSpec, type Sample } from '@cns/scripts/load';
