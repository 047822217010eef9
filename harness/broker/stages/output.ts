/** Stage: the target's answer matches the capability's output schema, when it has one. */
import type { BrokerCallResult } from '../../../protocol/capability.ts';
import { compileSchema, schemaProblems } from '../../capabilities/json-schema.ts';
import type { Capability } from '../../capabilities/definition.ts';

export function checkOutput(capability: Capability, result: BrokerCallResult): BrokerCallResult {
  if (!result.ok || !capability.output) return result;
  const compiled = compileSchema(capability.output);
  const problems = compiled.ok ? schemaProblems(compiled.validate, result.output ?? null) : [{ detail: 'the output schema does not compile' }];
  if (problems.length === 0) return result;
  return {
    ok: false,
    error: { code: 'capability_failed', message: `${capability.name}: the target's answer does not match the output schema: ${problems.map((p) => p.detail).join('; ')}`.slice(0, 4000) },
  };
}
