/**
 * Jest in native ESM mode (NestJS 12 is ESM-only): ts-jest transpiles each file, `tsc` type-checks
 * the whole tree in `npm test` before Jest runs.
 * Projects: unit (pure code, *.spec.ts), medium (real PostgreSQL, Redis, Azurite: *.medium.spec.ts),
 * e2e (the built archive driven by dcmtk tools, HTTP and MLLP clients: test/e2e).
 */
const transform = {
  '^.+\\.ts$': ['ts-jest', { useESM: true, tsconfig: '<rootDir>/tsconfig.json' }],
};
const common = {
  rootDir: '.',
  extensionsToTreatAsEsm: ['.ts'],
  moduleNameMapper: {
    '^#vna/(.*)$': '<rootDir>/libs/$1/src/index.ts',
    '^(\\.{1,2}/.*)\\.js$': '$1',
  },
  transform,
  testEnvironment: 'node',
};

export default {
  ...common,
  testTimeout: 180_000,
  globalSetup: '<rootDir>/test/support/global-setup.ts',
  globalTeardown: '<rootDir>/test/support/global-teardown.ts',
  projects: [
    { ...common, displayName: 'unit', testMatch: ['<rootDir>/{apps,libs}/**/*.spec.ts'], testPathIgnorePatterns: ['\\.medium\\.spec\\.ts$'] },
    { ...common, displayName: 'medium', testMatch: ['<rootDir>/{apps,libs}/**/*.medium.spec.ts'] },
    { ...common, displayName: 'e2e', testMatch: ['<rootDir>/test/e2e/**/*.e2e-spec.ts'] },
  ],
};
