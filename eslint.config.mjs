import tseslint from 'typescript-eslint';
import importX from 'eslint-plugin-import-x';

export default tseslint.config(
  { ignores: ['node_modules/**', '.airlock/**', 'images/**', 'bench/results/**', 'clients/*/dist/**'] },
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    plugins: { 'import-x': importX },
    rules: {
      '@typescript-eslint/no-floating-promises': [
        'error',
        // node:test's test()/describe() return promises the runner itself tracks.
        { allowForKnownSafeCalls: [{ from: 'package', package: 'node:test', name: ['test', 'describe', 'it', 'suite'] }] },
      ],
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
      'import-x/no-cycle': 'error',
    },
  },
  // Harness and runner share only protocol/: neither may import the other.
  {
    files: ['harness/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [{ group: ['**/runner/**'], message: 'The harness must not import the runner; share code through protocol/.' }] }],
    },
  },
  {
    files: ['runner/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [{ group: ['**/harness/**'], message: 'The runner must not import the harness; share code through protocol/.' }] }],
    },
  },
  // The sealer holds the signing key and trusts nothing else: it imports protocol/ only.
  {
    files: ['sealer/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [{ group: ['**/harness/**', '**/runner/**'], message: 'The sealer imports protocol/ only.' }] }],
    },
  },
  // The offline verifier needs nothing but the public key and protocol/'s proof code.
  {
    files: ['scripts/audit-verify.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [{ group: ['**/harness/**', '**/runner/**', '**/sealer/**'], message: 'The verifier depends on protocol/ only.' }] }],
    },
  },
  {
    files: ['protocol/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [{ group: ['**/harness/**', '**/runner/**', '**/sealer/**'], message: 'protocol/ depends on neither side.' }] }],
    },
  },
  {
    files: ['**/*.mjs'],
    languageOptions: { globals: { process: 'readonly', console: 'readonly', fetch: 'readonly', URL: 'readonly', setTimeout: 'readonly', Buffer: 'readonly' } },
  },
);
