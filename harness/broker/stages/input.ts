/** Stage: the input matches the capability's input schema (Ajv, compiled once per schema). */
import { compileSchema, schemaProblems } from '../../capabilities/json-schema.ts';
import { refuse, type CallContext, type Stop } from './context.ts';

export function inputStage(ctx: CallContext): Stop | null {
  const capability = ctx.capability!;
  const compiled = compileSchema(capability.input);
  if (!compiled.ok) return refuse('input', 'capability_failed', `${capability.name}: its input schema does not compile`, 'failure');
  const problems = schemaProblems(compiled.validate, ctx.call.input ?? null);
  if (problems.length === 0) return null;
  return refuse('input', 'capability_invalid_input', `${capability.name}: ${problems.map((p) => p.detail).join('; ')}`);
}
