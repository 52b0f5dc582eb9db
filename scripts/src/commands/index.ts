/** The commands, each written once against KubeClient so that Minikube and the local mesh run the same code. */
export { requireIstio, type GatewayOptions } from './shared';
export { gatewayBase, urlsCommand } from './urls';
export { checkCommand } from './check';
export { deployCommand, undeployCommand, type DeployOptions } from './deploy';
export { trafficCommand } from './traffic';
export { applyCommand, removeCommand } from './apply';
export { loadCommand, type LoadCommandOptions } from './load';
