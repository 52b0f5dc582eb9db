/** `load`: bounded demo traffic to getmultiple. */
import { SingleBar, Presets } from 'cli-progress';
import { UserError } from '../errors';
import type { Output } from '../io';
import { KubeClient } from '../kube';
import { formatSummary, runLoad, type LoadOptions } from '../load';
import { routingState, type GatewayOptions } from './shared';
import { gatewayBase, routedPaths } from './urls';

export type LoadCommandOptions = Omit<LoadOptions, 'url' | 'onProgress'> & GatewayOptions & { url?: string };

export async function loadCommand(connect: () => Promise<KubeClient>, options: LoadCommandOptions, io: Output): Promise<number> {
  let url = options.url;
  if (!url) {
    const client = await connect();
    const routing = await routingState(client, options.gatewayApi === true);
    const base = await gatewayBase(client, options, routing);
    if (!base.url) throw new UserError(`no gateway URL: ${base.note}`);
    url = `${base.url}${routedPaths(routing).getMultiple}`;
  }
  io.err(
    `load: up to ${options.count} requests to ${url}` +
      `${options.rate ? ` at ${options.rate}/s` : ''}${options.durationSec ? ` for at most ${options.durationSec} s` : ''}`,
  );
  const bar = io.interactive ? new SingleBar({ format: 'load |{bar}| {value}/{total} requests', hideCursor: true }, Presets.shades_classic) : undefined;
  bar?.start(options.count, 0);
  let summary;
  try {
    summary = await runLoad({ ...options, url, onProgress: (done) => bar?.update(done) });
  } finally {
    bar?.stop();
  }
  for (const line of formatSummary(summary)) io.out(line);
  const succeeded = Object.entries(summary.outcomes).some(([code]) => /^2\d\d$/.test(code));
  if (!succeeded) {
    io.err('no request succeeded: is the app deployed (`npm run check`)?');
    return 1;
  }
  return 0;
}
