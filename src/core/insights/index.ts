/**
 * The pure computations behind `tokenledger insights`: outcome economics, spend concentration,
 * what-if repricing and routing candidates, period-over-period trends and projections, lifecycle
 * candidates and the prompt-template audit. Money is integer nano-dollars throughout; unpriced
 * events are counted apart, never as $0; every counterfactual is labelled `estimated: true`.
 */
export * from './common.js';
export * from './concentration.js';
export * from './lifecycle.js';
export * from './outcomes.js';
export * from './signatures.js';
export * from './templates.js';
export * from './time.js';
export * from './whatif.js';
