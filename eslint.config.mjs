// ESLint for the whole tree: the recommended rules of ESLint and typescript-eslint, plus the
// type-checked rules that catch real faults in this code (a promise neither awaited nor handed
// on, a promise where a callback's result is read, awaiting what is not a promise). Formatting
// is Prettier's business (eslint-config-prettier turns the rules it owns off).
import eslint from '@eslint/js';
import tseslint from 'typescript-eslint';
import prettier from 'eslint-config-prettier';
import globals from 'globals';

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', '.infra/**', 'bench/results/**', 'test/artifacts/**', 'coverage/**'] },
  eslint.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: false }],
      '@typescript-eslint/await-thenable': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
    },
  },
  { files: ['apps/triggers-api/web/**/*.js'], languageOptions: { globals: globals.browser, sourceType: 'script' } },
  { files: ['*.js', '*.mjs', 'deploy/**/*.js'], languageOptions: { globals: globals.node } },
  prettier,
);
