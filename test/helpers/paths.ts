import { fileURLToPath } from 'node:url';

// Paths found from this file's location, never written as machine paths.
export const FIXTURES_DIR = fileURLToPath(new URL('../fixtures/claude-code/', import.meta.url));
export const CLI_MAIN = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));
export const GEN_CORPUS = fileURLToPath(new URL('../../bench/gen-corpus.mjs', import.meta.url));
