#!/usr/bin/env node
/**
 * `node scripts/dist/cli.js COMMAND` (root scripts: `npm run check|deploy|urls|traffic|apply|remove|load|undeploy`).
 * Target: the local mesh when it runs, else the kube context with --cluster / --context NAME.
 */
import { Command, CommanderError, Option } from 'commander';
import { applyCommand, checkCommand, deployCommand, loadCommand, removeCommand, trafficCommand, undeployCommand, urlsCommand } from './commands';
import { UserError, firstLine } from './errors';
import { processOutput, type Output } from './io';
import { KubeClient, resolveTarget, type TargetOptions } from './kube';
import { LOAD_LIMITS, parseBounded } from './load';
import { parseSplit } from './traffic';

interface GatewayApiFlag {
  gatewayApi?: boolean;
}

interface CliTargetFlags {
  cluster?: boolean;
  context?: string;
  meshUrl?: string;
}

function withTargetOptions(command: Command): Command {
  return command
    .option('--cluster', 'use the current kube context (e.g. minikube) instead of the local mesh')
    .option('--context <name>', 'use this kube context (implies --cluster)')
    .option('--mesh-url <url>', 'admin URL of the local mesh (default: $MESH_ADMIN_URL or http://127.0.0.1:$MESH_ADMIN_PORT, port 15000)');
}

/**
 * `npm run check --cluster` (without `--`) is taken by npm as its own config flag: npm passes it on as
 * npm_config_cluster=true instead of an argument, so it is honoured here too.
 */
function targetOptions(flags: CliTargetFlags, env: NodeJS.ProcessEnv): TargetOptions {
  const npmContext = env.npm_config_context;
  return {
    cluster: flags.cluster ?? env.npm_config_cluster === 'true',
    context: flags.context ?? (npmContext && npmContext !== 'true' ? npmContext : undefined),
    meshUrl: flags.meshUrl,
  };
}

/** `--gateway-api`: the Kubernetes Gateway API mode (gateway-api/) even when it is not what is deployed. */
function withGatewayApiOption(command: Command, what: string): Command {
  return command.option('--gateway-api', `${what} (default: detected: an HTTPRoute web-ingress and no VirtualService web-ingress)`);
}

function bounded(flag: string, limits: { min: number; max: number }) {
  return (text: string): number => parseBounded(flag, text, limits);
}

export function buildProgram(io: Output, env: NodeJS.ProcessEnv, setExit: (code: number) => void): Command {
  const connect = async (flags: CliTargetFlags): Promise<KubeClient> => KubeClient.create(await resolveTarget(targetOptions(flags, env), env));
  const program = new Command('npm run')
    .description('Deploy and drive the cloud-native-starter app on Minikube or on the local mesh')
    .exitOverride()
    .showSuggestionAfterError()
    .configureOutput({ writeOut: (s) => io.out(s.trimEnd()), writeErr: (s) => io.err(s.trimEnd()) });

  withTargetOptions(
    withGatewayApiOption(
      program.command('check').description('check the prerequisites: API reachable, Istio installed, sidecar injection, ingress gateway, Minikube'),
      'check the Gateway API mode: its CRDs, GatewayClass istio, Gateway web-gateway Programmed',
    ),
  ).action(async (flags: CliTargetFlags & GatewayApiFlag) => setExit(await checkCommand(await connect(flags), io, { gatewayApi: flags.gatewayApi })));

  const deploy = withTargetOptions(
    program
      .command('deploy')
      .description('apply k8s/ and istio/base/ (or gateway-api/base/), server-side, wait for every rollout, print the URLs')
      .addOption(new Option('--timeout <seconds>', 'rollout wait limit').default(300).argParser(bounded('--timeout', { min: 1, max: 3600 })))
      .option('--gateway-url <url>', 'ingress gateway base URL to print (default: derived from the target)'),
  );
  withGatewayApiOption(deploy, 'deploy gateway-api/base instead of istio/base').action(
    async (flags: CliTargetFlags & GatewayApiFlag & { timeout: number; gatewayUrl?: string }) =>
      setExit(await deployCommand(await connect(flags), { timeoutSec: flags.timeout, gatewayUrl: flags.gatewayUrl, gatewayApi: flags.gatewayApi, env }, io)),
  );

  const urls = withTargetOptions(
    program
      .command('urls')
      .description('print the app URL, the getmultiple curl command, Swagger UI and how to open Kiali')
      .option('--gateway-url <url>', 'ingress gateway base URL (default: derived from the target)'),
  );
  withGatewayApiOption(urls, 'the gateway web-gateway-istio and the paths of the HTTPRoute web-ingress').action(
    async (flags: CliTargetFlags & GatewayApiFlag & { gatewayUrl?: string }) =>
      setExit(await urlsCommand(await connect(flags), { gatewayUrl: flags.gatewayUrl, gatewayApi: flags.gatewayApi, env }, io)),
  );

  withTargetOptions(
    program
      .command('traffic')
      .description('set the getmultiple split between web-api v1 and v2, e.g. `traffic 80 20`; prints the split now active')
      .argument('<v1>', 'weight of subset v1, integer 0-100')
      .argument('<v2>', 'weight of subset v2, integer 0-100')
      .option('--gateway-api', 'patch the HTTPRoute web-ingress (gateway-api/) even if a VirtualService web-ingress exists (default: detected)'),
  ).action(async (v1: string, v2: string, flags: CliTargetFlags & { gatewayApi?: boolean }) => {
    const split = parseSplit(v1, v2); // before connecting: bad numbers never touch the target
    setExit(await trafficCommand(await connect(flags), split, io, { gatewayApi: flags.gatewayApi }));
  });

  withTargetOptions(
    program
      .command('apply')
      .description('apply Istio objects from files (istio/traffic, istio/faults, istio/resilience)')
      .requiredOption('-f, --file <file...>', 'YAML file(s) with Istio objects'),
  ).action(async (flags: CliTargetFlags & { file: string[] }) => {
    setExit(await applyCommand(await connect(flags), flags.file, io));
  });

  withTargetOptions(
    program
      .command('remove')
      .description('remove the Istio objects of the files (objects istio/base also defines are restored to it)')
      .requiredOption('-f, --file <file...>', 'YAML file(s) with Istio objects'),
  ).action(async (flags: CliTargetFlags & { file: string[] }) => {
    setExit(await removeCommand(await connect(flags), flags.file, io));
  });

  const load = withTargetOptions(
    program
      .command('load')
      .description('send bounded demo traffic to getmultiple; summary of status codes and v1/v2 share')
      .addOption(new Option('-n, --count <n>', 'requests to send').default(200).argParser(bounded('--count', LOAD_LIMITS.count)))
      .addOption(new Option('-r, --rate <per-second>', 'requests per second, 0 = unlimited').default(20).argParser(bounded('--rate', LOAD_LIMITS.rate)))
      .addOption(
        new Option('-d, --duration <seconds>', 'stop starting requests after this long, 0 = no limit')
          .default(60)
          .argParser(bounded('--duration', LOAD_LIMITS.durationSec)),
      )
      .addOption(new Option('-c, --concurrency <n>', 'requests in flight at once').default(8).argParser(bounded('--concurrency', LOAD_LIMITS.concurrency)))
      .option('--url <url>', 'full getmultiple URL (default: gateway URL + the path routed by web-ingress)')
      .option('--gateway-url <url>', 'ingress gateway base URL (default: derived from the target)'),
  );
  withGatewayApiOption(load, 'send to the gateway and getmultiple path of the Gateway API mode').action(
    async (
      flags: CliTargetFlags & GatewayApiFlag & { count: number; rate: number; duration: number; concurrency: number; url?: string; gatewayUrl?: string },
    ) =>
      setExit(
        await loadCommand(
          () => connect(flags),
          {
            count: flags.count,
            rate: flags.rate,
            durationSec: flags.duration,
            concurrency: flags.concurrency,
            timeoutMs: 10_000,
            url: flags.url,
            gatewayUrl: flags.gatewayUrl,
            gatewayApi: flags.gatewayApi,
            env,
          },
          io,
        ),
      ),
  );

  withTargetOptions(
    withGatewayApiOption(
      program.command('undeploy').description('delete everything deploy, traffic and apply created'),
      'delete what the Gateway API mode created (gateway-api/ files)',
    ),
  ).action(async (flags: CliTargetFlags & GatewayApiFlag) => setExit(await undeployCommand(await connect(flags), io, { gatewayApi: flags.gatewayApi })));

  // Users run these through npm: `Usage: npm run traffic -- [options] <v1> <v2>`.
  for (const command of program.commands) command.usage(`-- ${command.usage()}`);
  return program;
}

/** Runs one command line; returns the exit code. Never throws: failures become one `error: ...` line. */
export async function main(argv: string[], io: Output = processOutput, env: NodeJS.ProcessEnv = process.env): Promise<number> {
  let code = 0;
  const program = buildProgram(io, env, (c) => {
    code = c;
  });
  try {
    await program.parseAsync(argv, { from: 'user' });
    return code;
  } catch (err) {
    if (err instanceof CommanderError) {
      // commander already printed its message (or the help); an argParser's UserError arrives wrapped here.
      return err.exitCode;
    }
    if (err instanceof UserError) {
      io.err(`error: ${err.message}`);
      return err.exitCode;
    }
    io.err(`error: ${firstLine(err)}`);
    if (env.DEBUG) io.err(String((err as Error).stack));
    return 1;
  }
}

if (require.main === module) {
  // `npm run urls | head -1`: a closed pipe ends the output, not with a stack trace.
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
      throw err;
    });
  }
  void main(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
