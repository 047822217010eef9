/**
 * Harness composition root: the only place that reads config, connects, listens and installs
 * graceful shutdown.
 */
import closeWithGrace from 'close-with-grace';
import { buildApp } from './app.ts';
import { loadConfig } from './config.ts';
import { createHarnessDeps } from './deps.ts';

const config = loadConfig();
const deps = await createHarnessDeps(config);
const app = await buildApp({
  ...deps,
  logger: config.LOG_LEVEL === 'silent' ? false : { level: config.LOG_LEVEL },
});

closeWithGrace({ delay: 10_000 }, async ({ signal, err }) => {
  if (err) app.log.error({ err }, 'closing after an error');
  else app.log.info(`${signal}: closing`);
  await app.close();
  await deps.close();
});

await app.listen({ port: config.PORT, host: config.HOST });
