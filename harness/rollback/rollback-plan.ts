/**
 * The plan of a task's rollback: one compensation per call the task completed (settled ok) whose
 * capability named a `compensation` when it ran, newest call first (reverse order of the calls).
 * A call answered from its record (a retried attempt's replay) is the same record: counted once.
 */
import type { Compensation } from '../../protocol/compensation.ts';
import type { CallRecord } from '../broker/call-records.ts';

export function planRollback(records: ReadonlyMap<number, CallRecord>): Compensation[] {
  return [...records.entries()]
    .filter(([, r]) => r.state === 'settled' && r.result?.ok === true && r.compensation !== undefined)
    .sort(([a], [b]) => b - a)
    .map(([seq, r]) => ({
      call: seq,
      of: r.compensation!.of,
      capability: r.compensation!.capability,
      status: 'pending',
      attempts: 0,
    }));
}
