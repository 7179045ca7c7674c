/**
 * Three projects: `unit` (beside the code, no servers), `integration` (test/, against the real
 * Kafka, schema registry and FerretDB that the global setup starts once per run; `npm test` runs
 * these two) and `faults` (the system fault suite, test/faults/system/, on servers of its own
 * that it restarts: `npm run test:faults`).
 */
const shared = {
  moduleNameMapper: { '^@triggers/(.*)$': '<rootDir>/libs/$1/src' },
  transform: { '^.+\\.ts$': ['ts-jest', { tsconfig: '<rootDir>/tsconfig.spec.json' }] },
  testEnvironment: 'node',
};

module.exports = {
  projects: [
    {
      ...shared,
      displayName: 'unit',
      testMatch: ['<rootDir>/libs/**/*.spec.ts', '<rootDir>/apps/**/*.spec.ts'],
    },
    {
      ...shared,
      displayName: 'integration',
      testMatch: ['<rootDir>/test/**/*.spec.ts'],
      testPathIgnorePatterns: ['/node_modules/', '<rootDir>/test/faults/system/'],
      globalSetup: '<rootDir>/test/setup/global-setup.ts',
      globalTeardown: '<rootDir>/test/setup/global-teardown.ts',
      setupFilesAfterEnv: ['<rootDir>/test/setup/per-file.ts'],
    },
    {
      ...shared,
      displayName: 'faults',
      testMatch: ['<rootDir>/test/faults/system/**/*.spec.ts'],
      globalSetup: '<rootDir>/test/setup/faults-setup.ts',
      globalTeardown: '<rootDir>/test/setup/global-teardown.ts',
      setupFilesAfterEnv: ['<rootDir>/test/setup/per-file.ts'],
    },
  ],
};
