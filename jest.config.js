// One jest run for every Node workspace; web-app component tests run under vitest (see scripts/run-tests.mjs).
/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>'],
  testMatch: ['<rootDir>/*/src/**/*.test.ts', '<rootDir>/*/test/**/*.test.ts', '<rootDir>/web-app/e2e/**/*.test.ts'],
  testPathIgnorePatterns: ['/node_modules/', '/dist/'],
  transform: {
    '^.+\\.(t|j)sx?$': ['@swc/jest', { jsc: { target: 'es2022' }, module: { type: 'commonjs' } }],
  },
  // @kubernetes/client-node and its dependencies are ESM-only: let swc turn them into CommonJS.
  transformIgnorePatterns: ['/node_modules/(?!(@kubernetes/client-node|openid-client|oauth4webapi|jose)/)'],
  // Workspaces import each other's sources directly, so unit tests never need a build.
  moduleNameMapper: {
    '^@cns/([a-z0-9-]+)$': '<rootDir>/$1/src',
    '^@cns/([a-z0-9-]+)/([a-z0-9-]+)$': '<rootDir>/$1/src/$2',
  },
  testTimeout: 30000,
  maxWorkers: 2,
};
