/**
 * The harness's processes parts, assembled: the API app, the broker's listener and execute path,
 * and the rollback of failed tasks' calls, over one set of deps. harness/server.ts runs it as the
 * service. The bench's comparison harnesses (bench/harness-without-*.ts) run it too, changing
 * one part each, so a comparison measures that part and nothing else the service does.
 */
import type { FastifyInstance } from 'fastify';
import { buildApp, type AppDeps, type SecurityPath } from './app.ts';
import { createBrokerApp, createBrokerParts } from './broker/create-broker.ts';
import type { Config } from './config.ts';
import { createHarnessDeps, type HarnessDeps } from './deps.ts';
import type { PolicyGate } from './policy/gate.ts';
import { startRollback } from './rollback/start-rollback.ts';

/**
 * BENCHMARK ONLY (bench/harness-without-*.ts): what a comparison assembly changes. The service
 * (harness/server.ts) passes nothing, and no setting changes any of it.
 */
export interface HarnessAssembly {
  /** `false`: a task store that writes no audit entries (createHarnessDeps). */
  audit?: false;
  /** Parts of the deps to replace (a producer that appends nothing, metrics that record nothing). */
  replace?: (deps: HarnessDeps) => Partial<AppDeps>;
  /** The API's authentication and rate limits, and its policy gate. */
  security?: SecurityPath;
  policyGate?: PolicyGate;
}

export interface Harness {
  app: FastifyInstance;
  /** The broker's own listener; null with BROKER_ENABLED=false. */
  broker: FastifyInstance | null;
  /** Listens on PORT (HOST) and BROKER_PORT (BROKER_HOST). */
  listen(): Promise<void>;
  /** Closes the listeners, the rollback, the broker's parts and the connections, in that order. */
  close(): Promise<void>;
}

export async function startHarness(config: Config, assembly: HarnessAssembly = {}): Promise<Harness> {
  const base = await createHarnessDeps(config, config.AIRLOCK_TASK_QUEUE, assembly.audit === false ? { audit: false } : {});
  const logger = config.LOG_LEVEL === 'silent' ? false : { level: config.LOG_LEVEL };
  const deps: HarnessDeps = { ...base, ...assembly.replace?.(base), logger };
  const app = await buildApp(deps, assembly.security, assembly.policyGate);
  // The broker's execute path (policy, vault, SSRF guard, breakers), shared by its listener and
  // the rollback of failed tasks' calls.
  const brokerParts = await createBrokerParts(deps, { log: app.log });
  // The broker's own listener (capability calls from runners): never reachable with an API key.
  const broker = config.BROKER_ENABLED ? await createBrokerApp(deps, {}, brokerParts) : null;
  // Compensations of the calls of tasks that ended failed, timed out or cancelled (harness/rollback/).
  const rollback = await startRollback(deps, brokerParts.deps);
  return {
    app,
    broker,
    async listen() {
      await app.listen({ port: config.PORT, host: config.HOST });
      await broker?.listen({ port: config.BROKER_PORT, host: config.BROKER_HOST });
    },
    async close() {
      await app.close();
      await broker?.close();
      await rollback.close();
      await brokerParts.close();
      await base.close();
    },
  };
}
