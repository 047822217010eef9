/**
 * What an admin's capability definition must satisfy beyond its shape (definition.ts): schemas
 * that compile, an object input schema, limits on their size. Each problem names where it is
 * (`/body/input`, `/body/implementation/url`) for the RFC 9457 `errors` extension.
 */
import { HTTP_REQUEST_INPUT_SCHEMA, type CapabilityBody } from './definition.ts';
import { compileSchema } from './json-schema.ts';
import { templateFieldProblems } from './template-fields.ts';
import { templateProblems } from '../rollback/compensation-template.ts';

/** Largest input or output schema, as JSON. */
export const MAX_SCHEMA_BYTES = 64 * 1024;

export interface DefinitionProblem {
  pointer: string;
  detail: string;
}

export function definitionProblems(body: CapabilityBody): DefinitionProblem[] {
  const problems: DefinitionProblem[] = [];
  const input = body.input ?? (body.implementation.type === 'http.request' ? HTTP_REQUEST_INPUT_SCHEMA : undefined);
  if (input === undefined) {
    problems.push({ pointer: '/body/input', detail: 'input: a JSON Schema of the input is required (type "object")' });
  }
  for (const [field, schema] of [['input', input], ['output', body.output]] as const) {
    if (schema === undefined) continue;
    if (Buffer.byteLength(JSON.stringify(schema)) > MAX_SCHEMA_BYTES) {
      problems.push({ pointer: `/body/${field}`, detail: `${field}: the schema is larger than ${MAX_SCHEMA_BYTES} bytes` });
      continue;
    }
    const compiled = compileSchema(schema);
    if (!compiled.ok) problems.push({ pointer: `/body/${field}`, detail: `${field}: not a valid JSON Schema (2020-12): ${compiled.problem}` });
  }
  if (input !== undefined && (input as Record<string, unknown>)['type'] !== 'object') {
    problems.push({ pointer: '/body/input/type', detail: 'input: the schema must have type "object" (a call takes named arguments)' });
  }
  problems.push(...templateFieldProblems(body));
  // The compensation may name a capability not defined (yet): it fails visibly when run. Its
  // input template must be well-formed now.
  for (const p of templateProblems(body.compensation?.input)) {
    problems.push({ pointer: `/body/compensation/input${p.pointer}`, detail: `compensation.input: ${p.detail}` });
  }
  return problems;
}
