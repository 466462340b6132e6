const OTLP_KEYS = new Set(['resourceSpans', 'resourceLogs', 'resourceMetrics']);

/**
 * Auto-detection: true when the first JSON object of a file has a top-level `resourceSpans`,
 * `resourceLogs` or `resourceMetrics` key. `firstBytes` may be cut anywhere (the head of a large
 * file): only the keys seen before the cut count, and a key nested deeper or inside a string never does.
 *
 * @example
 * looksLikeOtlp('{"resourceSpans":[{"resource":'); // true
 * looksLikeOtlp('{"type":"assistant","message":{}}'); // false
 */
export function looksLikeOtlp(firstBytes: string): boolean {
  const s = firstBytes;
  let i = 0;
  while (i < s.length && (s[i] === '\uFEFF' || /\s/.test(s[i]!))) i++;
  if (s[i] !== '{') return false;
  let depth = 0;
  for (; i < s.length; i++) {
    const c = s[i];
    if (c === '"') {
      const end = stringEnd(s, i);
      if (end < 0) return false;
      if (depth === 1) {
        let j = end + 1;
        while (j < s.length && /\s/.test(s[j]!)) j++;
        // A string at depth 1 followed by a colon is a key of the first object.
        if (s[j] === ':' && OTLP_KEYS.has(s.slice(i + 1, end))) return true;
      }
      i = end;
    } else if (c === '{' || c === '[') {
      depth++;
    } else if (c === '}' || c === ']') {
      depth--;
      if (depth === 0) return false; // the first object ended without such a key
    }
  }
  return false;
}

function stringEnd(s: string, open: number): number {
  for (let i = open + 1; i < s.length; i++) {
    if (s[i] === '\\') i++;
    else if (s[i] === '"') return i;
  }
  return -1;
}
