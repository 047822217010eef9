/**
 * Harness composition root: the only place that reads config, connects, listens and installs
 * graceful shutdown.
 */
import closeWithGrace from 'close-with-grace';
import { buildApp } from './app.ts';
import { createBrokerApp, createBrokerParts } from './broker/create-broker.ts';
import { loadConfig } from './config.ts';
import { createHarnessDeps } from './deps.ts';
import { startRollback } from './rollback/start-rollback.ts';
import { startTracing } from '../protocol/telemetry/tracing.ts';

const config = loadConfig();
// The OpenTelemetry SDK, only with OTEL_EXPORTER_OTLP_ENDPOINT (protocol/telemetry/tracing.ts):
// before the apps are built (their tracing hooks are installed only when it runs).
const tracing = await startTracing('airlock-harness');
const deps = await createHarnessDeps(config);
const logger = config.LOG_LEVEL === 'silent' ? false : { level: config.LOG_LEVEL };
const app = await buildApp({ ...deps, logger });
// The broker's execute path (policy, vault, SSRF guard, breakers), shared by its listener and
// the rollback of failed tasks' calls.
const brokerParts = await createBrokerParts({ ...deps, logger }, { log: app.log });
// The broker's own listener (capability calls from runners): never reachable with an API key.
const broker = config.BROKER_ENABLED ? await createBrokerApp({ ...deps, logger }, {}, brokerParts) : null;
// Compensations of the calls of tasks that ended failed, timed out or cancelled (harness/rollback/).
const rollback = await startRollback(deps, brokerParts.deps);

// Fault signals keep their default action (die, so a supervisor restarts the harness). Caught
// like SIGTERM, a fault is answered from the event loop and the faulting instruction runs again:
// a V8 fatal error (a trap, SIGILL) then spun the harness at 100% CPU forever, answering nothing.
const FAULT_SIGNALS = ['SIGILL', 'SIGTRAP', 'SIGABRT', 'SIGBUS', 'SIGFPE', 'SIGSEGV'] as const;

closeWithGrace({ delay: 10_000, skip: [...FAULT_SIGNALS] }, async ({ signal, err }) => {
  if (err) app.log.error({ err }, 'closing after an error');
  else app.log.info(`${signal}: closing`);
  await app.close();
  await broker?.close();
  await rollback.close();
  await brokerParts.close();
  await deps.close();
  await tracing?.shutdown().catch(() => undefined);
});

// Started by `npm start` (scripts/start.mjs) with an IPC channel and in a process group of its
// own: nothing but the launcher signals it, so when the launcher dies (even by SIGKILL) and the
// channel closes, close as on SIGTERM instead of running on alone.
if (process.channel) {
  process.channel.unref();
  process.once('disconnect', () => process.kill(process.pid, 'SIGTERM'));
}

await app.listen({ port: config.PORT, host: config.HOST });
await broker?.listen({ port: config.BROKER_PORT, host: config.BROKER_HOST });
