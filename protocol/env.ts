import { z } from 'zod';

/** Environment booleans: "false", "0", "no" and "" mean false (z.coerce.boolean would say true). */
export const BoolEnv = z.preprocess((v) => {
  if (typeof v !== 'string') return v;
  return !['', '0', 'false', 'no', 'off'].includes(v.trim().toLowerCase());
}, z.boolean());

/** Turns a zod error on the environment into one message that names each variable to fix. */
export function describeEnvError(error: z.ZodError): string {
  return error.issues.map((i) => `${i.path.join('.') || '(env)'}: ${i.message}`).join('; ');
}
