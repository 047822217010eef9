// What `npm start` sets for local development and what it tells a newcomer once Airlock is up.

/**
 * Local-development limits, set by `npm start` only where the environment does not set them.
 * The production defaults (harness/config.ts: 10 task creations and 4 concurrent tasks per
 * agent, 100 reads a minute) stop a loop of experiments within seconds; these do not within a
 * minute. Each line of the banner names the variable, so raising a limit is one export away.
 */
export const DEV_LIMITS = {
  RATE_LIMIT_TASK_CREATES_PER_MIN: '600',
  RATE_LIMIT_CONCURRENT_TASKS: '50',
  RATE_LIMIT_READS_PER_MIN: '6000',
  RATE_LIMIT_WRITES_PER_MIN: '600',
  MAX_WAIT_SECONDS: '60',
};

/** The limits fields of GET /v1/admin/limits, with the variable behind each default. */
const QUOTAS = [
  ['taskCreatesPerMin', 'task creations/min', 'RATE_LIMIT_TASK_CREATES_PER_MIN'],
  ['concurrentTasks', 'concurrent tasks', 'RATE_LIMIT_CONCURRENT_TASKS'],
  ['readsPerMin', 'reads/min', 'RATE_LIMIT_READS_PER_MIN'],
  ['writesPerMin', 'writes/min', 'RATE_LIMIT_WRITES_PER_MIN'],
];

/**
 * The dev agent's effective quotas: asked from the running harness (its defaults, then the
 * tenant's and the agent's overrides, most specific first, field by field, as the rate limiter
 * applies them), or the configured defaults if that fails.
 */
export async function devAgentLimits({ base, adminKey, env, devTenant = 'dev', devAgent = 'dev-agent' }) {
  const configured = Object.fromEntries(QUOTAS.map(([field, , name]) => [field, Number(env[name])]));
  try {
    const res = await fetch(`${base}/v1/admin/limits`, { headers: { authorization: `Bearer ${adminKey}` } });
    if (!res.ok || (env.AIRLOCK_ADMIN_TENANT ?? 'dev') !== devTenant) return configured;
    const { defaults, overrides } = await res.json();
    return Object.fromEntries(
      QUOTAS.map(([field]) => [field, overrides.agents?.[devAgent]?.[field] ?? overrides.tenant?.[field] ?? defaults[field]]),
    );
  } catch {
    return configured;
  }
}

/** The banner: where Airlock is, the keys, the limits and how to raise them, first calls. */
export function bannerLines({ base, devKey, adminKey, limits, maxWaitSeconds, containers, stateDirName }) {
  const limitText = QUOTAS.map(([field, label]) => `${limits[field]} ${label}`).join(', ');
  return [
    `Airlock is ready at ${base}`,
    '',
    `  development API key (agent dev-agent, tenant dev; kept in ${stateDirName}/dev-api-key):`,
    `    ${devKey}`,
    `  admin API key (user bootstrap-admin, admin of tenant dev; kept in ${stateDirName}/admin-api-key):`,
    `    ${adminKey}`,
    '',
    `  dev-agent's limits: ${limitText}; wait up to ${maxWaitSeconds} s per request.`,
    `  Raise them with ${QUOTAS.map(([, , name]) => name).join(', ')}, MAX_WAIT_SECONDS`,
    `  (e.g. RATE_LIMIT_TASK_CREATES_PER_MIN=2000 npm start), or per agent with PUT /v1/admin/limits.`,
    `  ${containers}`,
    '',
    '  Run a task:',
    `    curl -s -X POST ${base}/v1/tasks \\`,
    `      -H 'Authorization: Bearer ${devKey}' \\`,
    `      -H "Idempotency-Key: \\"$(cat /proc/sys/kernel/random/uuid)\\"" \\`,
    `      -H 'Content-Type: application/json' \\`,
    `      -d '{"runtime":"javascript","code":"1 + 1","wait":10}'`,
    '  First admin call (limits in force; the README lists the admin API):',
    `    curl -s ${base}/v1/admin/limits -H 'Authorization: Bearer ${adminKey}'`,
    '',
    '  Ctrl-C stops everything.',
  ];
}
