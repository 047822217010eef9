/**
 * Runner composition root: config → runner → signal handlers. Run as its own process
 * (`npm run runner`); it never holds secrets.
 */
// First: V8 flags before anything is compiled hot (v8-flags.ts).
import './v8-flags.ts';
import { startTracing } from '../protocol/telemetry/tracing.ts';
import { loadConfig } from './config.ts';
import { runnerLogger } from './runner-logger.ts';
import { startRunner } from './runner.ts';

const config = loadConfig();
const logger = runnerLogger(config);
const log = (msg: string) => logger.info(msg);
// The OpenTelemetry SDK, only with OTEL_EXPORTER_OTLP_ENDPOINT (protocol/telemetry/tracing.ts).
const tracing = await startTracing('airlock-runner');
const runner = await startRunner(config, logger, config.AIRLOCK_TASK_QUEUE);
const unready = runner.unready();
log(
  unready.length === 0
    ? `ready (${config.ISOLATE_HOSTS} isolate hosts, queue ${config.AIRLOCK_TASK_QUEUE})`
    : `started, NOT ready (${unready.join('; ')}); the harness's /readyz says so until it recovers`,
);

let stopping = false;
// Started by `npm start` (scripts/start.mjs) with an IPC channel and in a process group of its
// own: nothing but the launcher signals it, so when the launcher dies (even by SIGKILL) and the
// channel closes, stop as on SIGTERM instead of running on alone.
if (process.channel) {
  process.channel.unref();
  process.once('disconnect', () => process.kill(process.pid, 'SIGTERM'));
}
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.on(signal, () => {
    if (stopping) return;
    stopping = true;
    log(`${signal}: finishing running tasks, then exiting`);
    // A second signal or a stuck shutdown must not keep the process alive forever.
    setTimeout(() => process.exit(1), 60_000).unref();
    runner.close().then(
      async () => {
        await tracing?.shutdown().catch(() => undefined);
        process.exit(0);
      },
      (err: unknown) => {
        log(`shutdown failed: ${String(err)}`);
        process.exit(1);
      },
    );
  });
}
