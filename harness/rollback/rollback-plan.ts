/**
 * The plan of a task's rollback, newest call first (reverse order of the calls):
 * - one `pending` compensation per call the task completed (settled ok) whose capability named a
 *   `compensation` when it ran (a call answered from its record, a retried attempt's replay, is
 *   the same record: counted once);
 * - one `failed` (`capability_uncertain`) per call that was started and never answered (the task
 *   ended while it ran) whose capability has a compensation: its effect is unknown, so it is not
 *   undone blindly, but it is shown for a human instead of silently left out.
 */
import type { Compensation } from '../../protocol/compensation.ts';
import type { CallRecord } from '../broker/call-records.ts';

/** The compensation capability of a capability now (its definition), or undefined. */
export type CompensationOf = (capability: string) => Promise<string | undefined>;

export async function planRollback(records: ReadonlyMap<number, CallRecord>, compensationOf: CompensationOf): Promise<Compensation[]> {
  const plan: Compensation[] = [];
  for (const [seq, r] of [...records.entries()].sort(([a], [b]) => b - a)) {
    if (r.state === 'settled' && r.result?.ok === true && r.compensation !== undefined) {
      plan.push({ call: seq, of: r.compensation.of, capability: r.compensation.capability, status: 'pending', attempts: 0 });
    } else if (r.state === 'started') {
      // The key is `<task id>:<seq>:<name>:<input hash>` (call-records.ts).
      const name = r.key.split(':')[2] ?? '';
      const capability = name ? await compensationOf(name) : undefined;
      if (!capability) continue;
      plan.push({
        call: seq,
        of: name,
        capability,
        status: 'failed',
        attempts: 0,
        error: {
          code: 'capability_uncertain',
          message: `${name}: call #${seq} was started and never answered when the task ended; whether it took effect is unknown, so it is not undone automatically: a human must check`,
        },
        finishedAt: new Date().toISOString(),
      });
    }
  }
  return plan;
}
