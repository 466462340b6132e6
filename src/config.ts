import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import type { PriceBook } from './core/pricing.js';
import { loadPriceOverrides } from './prices/overrides.js';
import { createPriceBook } from './prices/price-book.js';

/** `$TOKENLEDGER_HOME`, else `~/.tokenledger`. */
export function tokenledgerHome(env: NodeJS.ProcessEnv = process.env): string {
  return env.TOKENLEDGER_HOME ? resolve(env.TOKENLEDGER_HOME) : join(homedir(), '.tokenledger');
}

export function ledgerPath(flag: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  return flag ? resolve(flag) : join(tokenledgerHome(env), 'ledger.db');
}

/**
 * The price book with the user's overrides: `--prices FILE` (must exist) or
 * `~/.tokenledger/prices.json` (optional). The overrides' content hash is part of its version, so
 * editing the file re-prices the ledger on the next ingest.
 */
export function loadPriceBook(flag: string | undefined, env: NodeJS.ProcessEnv = process.env): PriceBook {
  const file = flag ? resolve(flag) : join(tokenledgerHome(env), 'prices.json');
  const required = flag !== undefined;
  if (!required && !existsSync(file)) return createPriceBook();
  const overrides = loadPriceOverrides(file, required);
  const hash = createHash('sha1').update(readFileSync(file)).digest('hex').slice(0, 10);
  return createPriceBook({ overrides, overridesVersion: `overrides:${hash}` });
}
