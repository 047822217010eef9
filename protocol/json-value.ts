import { z } from 'zod';

/**
 * Any JSON value. Use this rather than `z.json()` in route schemas: its registry id gives the
 * recursive type a name (`#/components/schemas/JsonValue`) in the OpenAPI document; an unnamed
 * recursive schema becomes a reference to nothing there.
 */
export const JsonValueSchema = z.json().meta({ id: 'JsonValue' });
