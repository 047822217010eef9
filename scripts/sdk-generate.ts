/**
 * Writes the API's OpenAPI document (from the real app: the route schemas are its source) to
 * clients/typescript/openapi.json and the SDK's types generated from it (openapi-typescript) to
 * clients/typescript/src/schema.ts. Run after changing a route: `npm run sdk:generate`.
 * test/integration/sdk-typescript.test.ts fails when the committed files are not what this
 * writes, so the SDK's types never drift from the API.
 */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import openapiTS, { astToString } from 'openapi-typescript';
import { startStack } from '../test/helpers/stack.ts';

const DIR = fileURLToPath(new URL('../clients/typescript/', import.meta.url));

/** The document and the generated types, as the committed files should hold them. */
export async function generate(): Promise<{ document: string; schema: string }> {
  const stack = await startStack({ runner: false });
  try {
    const res = await stack.app.inject({ method: 'GET', url: '/openapi.json' });
    const document = `${JSON.stringify(res.json(), null, 2)}\n`;
    const ast = await openapiTS(JSON.parse(document) as Parameters<typeof openapiTS>[0]);
    const schema =
      '// Generated from openapi.json by scripts/sdk-generate.ts (npm run sdk:generate). Do not edit.\n' +
      namedRecursiveJson(astToString(ast));
    return { document, schema };
  } finally {
    await stack.close();
  }
}

/**
 * openapi-typescript writes the recursive JsonValue component as a union that names itself
 * through `components["schemas"]["JsonValue"]`, which TypeScript refuses (TS2502: referenced in
 * its own type annotation). The component becomes a reference to a top-level recursive alias,
 * which TypeScript accepts.
 */
function namedRecursiveJson(source: string): string {
  const generated =
    /JsonValue: string \| number \| boolean \| null \| components\["schemas"\]\["JsonValue"\]\[\] \| \{\n\s*\[key: string\]: components\["schemas"\]\["JsonValue"\];\n\s*\};/;
  if (!generated.test(source)) return source;
  return (
    source.replace(generated, 'JsonValue: JsonValue;') +
    '/** Any JSON value (the `JsonValue` component). */\n' +
    'export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };\n'
  );
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { document, schema } = await generate();
  await writeFile(path.join(DIR, 'openapi.json'), document);
  await writeFile(path.join(DIR, 'src/schema.ts'), schema);
  console.log('wrote clients/typescript/openapi.json and src/schema.ts');
  process.exit(0);
}
