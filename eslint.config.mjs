// ESLint for the whole tree: the recommended rules of ESLint and typescript-eslint, plus the
// type-checked rules that catch real faults in this code (a promise neither awaited nor handed
// on, a promise where a callback's result is read, awaiting what is not a promise). Formatting
// is Prettier's business (eslint-config-prettier turns the rules it owns off).
import eslint from '@eslint/js';
import tseslint from 'typescript-eslint';
import prettier from 'eslint-config-prettier';
import globals from 'globals';

// The boundaries between the parts of the tree. An app imports no other app (what two apps share
// is a lib); a lib imports no app; the test helpers (`@triggers/testing`) and the local servers
// (`@triggers/local-infra`) are for specs, tests, benches and developer scripts, never for code
// that ships; the Kafka and runtime libs hold no domain of their own (no rules, stores, secrets).
const APPS = ['triggers-api', 'matcher', 'webhook-dispatcher', 'lead-mover', 'log-sink'];
const ANY_APP = { group: ['**/apps/**', ...APPS.map((a) => `**/${a}/src/**`)], message: 'a lib imports no app: move what it needs into a lib' };
const DEV_ONLY = {
  group: ['@triggers/testing', '@triggers/testing/**', '@triggers/local-infra', '@triggers/local-infra/**'],
  message: 'code that ships does not load the test helpers or the local servers (specs, tests, benches and scripts may)',
};
const otherApps = (app) => ({
  group: APPS.filter((a) => a !== app).map((a) => `**/${a}/**`),
  message: 'an app imports no other app: move what both need into libs/',
});
const restrict = (...patterns) => ({ 'no-restricted-imports': ['error', { patterns }] });
const SPECS = ['**/*.spec.ts'];
const boundaries = [
  ...APPS.flatMap((app) => [
    { files: [`apps/${app}/**/*.ts`], ignores: SPECS, rules: restrict(otherApps(app), DEV_ONLY) },
    { files: [`apps/${app}/**/*.spec.ts`], rules: restrict(otherApps(app)) },
  ]),
  { files: ['libs/**/*.ts'], ignores: [...SPECS, 'libs/testing/**', 'libs/local-infra/**'], rules: restrict(ANY_APP, DEV_ONLY) },
  { files: ['libs/**/*.spec.ts', 'libs/testing/**/*.ts', 'libs/local-infra/**/*.ts'], rules: restrict(ANY_APP) },
  {
    files: ['libs/kafka/**/*.ts', 'libs/runtime/**/*.ts'],
    ignores: SPECS,
    rules: restrict(ANY_APP, DEV_ONLY, {
      group: ['@triggers/rules', '@triggers/access', '@triggers/secrets', '@triggers/address-policy'],
      message: 'the Kafka and runtime libs carry no domain: put it in a lib of its own',
    }),
  },
  { files: ['cli/**/*.ts'], rules: restrict(ANY_APP, DEV_ONLY) },
];

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
  ...boundaries,
  prettier,
);
