// ESLint flat config: the recommended JavaScript and typescript-eslint rules (syntax only, no type information, so
// a lint run costs seconds), with Node globals for the scripts and browser globals for the web app. Formatting is
// Prettier's job (.prettierrc.json); the layering rules are dependency-cruiser's (.dependency-cruiser.cjs).
import js from '@eslint/js';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  // What .gitignore lists (build output, run data) and the test fixtures, some deliberately malformed.
  {
    ignores: [
      '**/node_modules/',
      '**/dist/',
      '**/coverage/',
      'bench/results/',
      '**/fixtures/',
      '**/.mesh/',
      '**/.data/',
      '**/.test-results/',
      'web-app/e2e/screenshots/',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { ecmaVersion: 2023, sourceType: 'module', globals: { ...globals.node } },
  },
  {
    rules: {
      // The code drops fields with a `_`-named or rest-sibling binding (`const { date, ...headers } = ...`) on purpose.
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', ignoreRestSiblings: true }],
    },
  },
  {
    files: ['**/*.cjs', '**/*.js'],
    languageOptions: { sourceType: 'commonjs' },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
  {
    // Tests read JSON bodies and driver results of whatever shape the server sent; typing each one is noise.
    files: ['**/*.test.ts', '**/test/**/*.ts', '**/e2e/**/*.ts'],
    rules: { '@typescript-eslint/no-explicit-any': 'off' },
  },
  {
    files: ['web-app/src/**', 'mesh/static/**'],
    languageOptions: { globals: { ...globals.browser } },
  },
);
