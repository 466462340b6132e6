/**
 * The model router: a role table with live overrides (`createRouter`), message escalation by
 * `!tag` > caller's pattern > default role (`createMessageRouter`), the scope attributes that record
 * a route on the meter's events (`routeAttributes`), and what routing saved (`savingsEstimate`).
 *
 * @example
 * ```ts
 * import { createMessageRouter, createRouter, routeAttributes } from './router/index.js';
 * const router = createRouter({ roles: { fast: { model: 'claude-haiku-4-5' }, deep: { model: 'claude-opus-4-1' } } });
 * const { route, text } = createMessageRouter({ router, defaultRole: 'fast' }).routeMessage('!deep why?');
 * await meter.run(routeAttributes(route), () => callModel(route.model, text));
 * ```
 */
export type {
  Effort,
  MessageRouter,
  MessageRouterOptions,
  RoleSpec,
  RoleTable,
  Route,
  RoutedMessage,
  RouteMessageOptions,
  RoutePattern,
  Router,
  RouterOptions,
  RouteTags,
} from './router.js';
export {
  createMessageRouter,
  createRouter,
  RoleTableError,
  routeAttributes,
  UnknownRoleError,
} from './router.js';
export type { PricedModel, RoleSavings, RoleTraffic, SavingsEstimate } from './savings.js';
export { savingsEstimate, trafficByRole } from './savings.js';
