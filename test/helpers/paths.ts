import { fileURLToPath } from 'node:url';

/** The repository root, found from this file's location (never a machine path). */
export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const FIXTURES_DIR = fileURLToPath(new URL('../fixtures/claude-code/', import.meta.url));
export const CLI_MAIN = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));
export const GEN_CORPUS = fileURLToPath(new URL('../../bench/gen-corpus.mjs', import.meta.url));

/** A fixture file or folder by its path under test/fixtures/claude-code/. */
export function fixture(rel: string): string {
  return fileURLToPath(new URL(rel, new URL('../fixtures/claude-code/', import.meta.url)));
}
