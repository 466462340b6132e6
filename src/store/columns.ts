import type { Attribution } from '../core/event.js';

/** Attribution fields and their columns (the PostgreSQL store uses the same names). */
export const ATTR_COLUMNS: [keyof Attribution, string][] = [
  ['project', 'project'],
  ['session', 'session'],
  ['run', 'run'],
  ['workflow', 'workflow'],
  ['agentPath', 'agent_path'],
  ['agentName', 'agent_name'],
  ['agentType', 'agent_type'],
  ['agentId', 'agent_id'],
  ['agentDescription', 'agent_desc'],
  ['stage', 'stage'],
  ['task', 'task'],
  ['user', 'user'],
  ['feature', 'feature'],
  ['status', 'status'],
];
