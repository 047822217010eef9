/**
 * Harness composition root: the only place that reads config, connects, listens and installs
 * graceful shutdown.
 */
import closeWithGrace from 'close-with-grace';
import { loadConfig } from './config.ts';
import { startHarness } from './start-harness.ts';
import { startTracing } from '../protocol/telemetry/tracing.ts';

const config = loadConfig();
// The OpenTelemetry SDK, only with OTEL_EXPORTER_OTLP_ENDPOINT (protocol/telemetry/tracing.ts):
// before the apps are built (their tracing hooks are installed only when it runs).
const tracing = await startTracing('airlock-harness');
// The API, the broker's listener and the rollback (harness/start-harness.ts).
const harness = await startHarness(config);
const { app } = harness;

// Fault signals keep their default action (die, so a supervisor restarts the harness). Caught
// like SIGTERM, a fault is answered from the event loop and the faulting instruction runs again:
// a V8 fatal error (a trap, SIGILL) then spun the harness at 100% CPU forever, answering nothing.
const FAULT_SIGNALS = ['SIGILL', 'SIGTRAP', 'SIGABRT', 'SIGBUS', 'SIGFPE', 'SIGSEGV'] as const;

closeWithGrace({ delay: 10_000, skip: [...FAULT_SIGNALS] }, async ({ signal, err }) => {
  if (err) app.log.error({ err }, 'closing after an error');
  else app.log.info(`${signal}: closing`);
  await harness.close();
  await tracing?.shutdown().catch(() => undefined);
});

// Started by `npm start` (scripts/start.mjs) with an IPC channel and in a process group of its
// own: nothing but the launcher signals it, so when the launcher dies (even by SIGKILL) and the
// channel closes, close as on SIGTERM instead of running on alone.
if (process.channel) {
  process.channel.unref();
  process.once('disconnect', () => process.kill(process.pid, 'SIGTERM'));
}

await harness.listen();
