/**
 * Builders for Claude Code transcript lines in the real on-disk shape (see ../../../shared/FORMATS.md
 * and test/fixtures/claude-code/): one JSON object per line, assistant records carrying
 * `message.{id, model, usage}`, `requestId`, `timestamp`, `sessionId`.
 */
export interface CallLine {
  id: string;
  requestId?: string;
  model?: string;
  ts: string;
  session?: string;
  input?: number;
  output?: number;
  cacheRead?: number;
  cacheWrite?: number;
  speed?: string;
  isSidechain?: boolean;
  agentId?: string;
}

export function assistantLine(c: CallLine): string {
  const usage: Record<string, unknown> = {
    input_tokens: c.input ?? 0,
    cache_creation_input_tokens: c.cacheWrite ?? 0,
    cache_read_input_tokens: c.cacheRead ?? 0,
    output_tokens: c.output ?? 0,
  };
  if (c.speed) usage.speed = c.speed;
  const rec: Record<string, unknown> = {
    type: 'assistant',
    timestamp: c.ts,
    sessionId: c.session ?? 'sess-1',
    version: '2.1.30',
    isSidechain: c.isSidechain ?? false,
    message: {
      id: c.id,
      type: 'message',
      role: 'assistant',
      model: c.model ?? 'claude-sonnet-4-5',
      content: [{ type: 'text', text: `answer of ${c.id}` }],
      stop_reason: 'end_turn',
      usage,
    },
  };
  if (c.requestId) rec.requestId = c.requestId;
  if (c.agentId) rec.agentId = c.agentId;
  return JSON.stringify(rec);
}

/** A plain user turn (no usage: never an event). */
export function userLine(ts: string, text: string, session = 'sess-1'): string {
  return JSON.stringify({
    type: 'user',
    timestamp: ts,
    sessionId: session,
    version: '2.1.30',
    message: { role: 'user', content: [{ type: 'text', text }] },
  });
}

/** Lines joined as a JSONL file body (every line ended by a newline). */
export function jsonl(lines: string[]): string {
  return lines.map((l) => `${l}\n`).join('');
}
