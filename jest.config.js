/**
 * Three projects: `unit` (beside the code, no servers), `integration` (test/, against the real
 * Kafka, schema registry and FerretDB that the global setup starts once per run; `npm test` runs
 * these two), `faults` (the system fault suite, test/faults/system/, on servers of its own
 * that it restarts: `npm run test:faults`) and `scale` (the scale-out suite, test/scale/, on a
 * three-broker cluster with three instances of every consumer: `npm run test:scale`).
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
      testMatch: ['<rootDir>/libs/**/*.spec.ts', '<rootDir>/apps/**/*.spec.ts', '<rootDir>/bench/**/*.spec.ts'],
    },
    {
      ...shared,
      displayName: 'integration',
      testMatch: ['<rootDir>/test/**/*.spec.ts'],
      testPathIgnorePatterns: ['/node_modules/', '<rootDir>/test/faults/system/', '<rootDir>/test/scale/'],
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
    {
      ...shared,
      displayName: 'scale',
      testMatch: ['<rootDir>/test/scale/**/*.spec.ts'],
      globalSetup: '<rootDir>/test/setup/scale-setup.ts',
      globalTeardown: '<rootDir>/test/setup/global-teardown.ts',
      setupFilesAfterEnv: ['<rootDir>/test/setup/per-file.ts'],
    },
  ],
};
