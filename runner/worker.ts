/**
 * Runner composition root: config → runner → signal handlers. Run as its own process
 * (`npm run runner`); it never holds secrets.
 */
import { loadConfig } from './config.ts';
import { startRunner } from './runner.ts';

const config = loadConfig();
const log = (msg: string) => {
  if (config.LOG_LEVEL !== 'silent') process.stderr.write(`[runner ${config.RUNNER_ID}] ${msg}\n`);
};
const runner = await startRunner(config, log, config.AIRLOCK_TASK_QUEUE);
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
      () => process.exit(0),
      (err: unknown) => {
        log(`shutdown failed: ${String(err)}`);
        process.exit(1);
      },
    );
  });
}
