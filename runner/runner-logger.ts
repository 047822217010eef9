import { pino, type Logger } from 'pino';
import type { Config } from './config.ts';

/**
 * The runner's logger: JSON lines on stderr, as pino writes them (the harness's shape); each
 * task's lines carry `taskId` and, with traces on, `traceId`. runner/worker.ts and the bench's
 * comparison runners use the same one.
 */
export function runnerLogger(config: Pick<Config, 'LOG_LEVEL' | 'RUNNER_ID'>): Logger {
  return pino({ level: config.LOG_LEVEL, base: { runnerId: config.RUNNER_ID } }, pino.destination(2));
}
