/**
 * The real services the tests use, provided by `test/global-setup.ts` (which fails the run when it
 * cannot provide them): read here so a test file says what it needs in one word.
 */
function required(name: 'TOKENLEDGER_TEST_PG' | 'CHROMIUM_PATH'): string {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set: run the tests through vitest (test/global-setup.ts sets it)`);
  return v;
}

/** URL of the test PostgreSQL database. */
export const testPostgresUrl = (): string => required('TOKENLEDGER_TEST_PG');

/** Path of the chromium binary playwright-core drives. */
export const testChromiumPath = (): string => required('CHROMIUM_PATH');
