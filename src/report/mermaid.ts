import { costText, type FlowGraph } from './flow.js';

/** The costliest path's colour (red that reads on light and dark themes). */
export const COSTLIEST_COLOUR = '#d62728';

/**
 * Text inside a quoted Mermaid label: one line, and every character Mermaid or HTML would read as
 * syntax written as a Mermaid entity code (`#quot;`, `#lt;`, …), so no name can end the label, add a
 * node, inject markup or a `%%{init…}%%` directive.
 */
export function mermaidText(s: string): string {
  return s
    .replace(/[\r\n\t\u2028\u2029]+/g, ' ')
    .replace(/#/g, '#35;')
    .replace(/%/g, '#37;')
    .replace(/&/g, '#amp;')
    .replace(/"/g, '#quot;')
    .replace(/</g, '#lt;')
    .replace(/>/g, '#gt;')
    .replace(/`/g, '#96;');
}

/**
 * A `%%` comment line: one line, and never a `%%{…}%%` directive (Mermaid looks for those anywhere
 * in the text, comments included).
 */
const comment = (s: string) => `  %% ${s.replace(/[\r\n\u2028\u2029]+/g, ' ').replace(/%(?=%)/g, '% ')}`;

/**
 * The money flow as a Mermaid `flowchart LR`: runs → agents → models, each node with its spend,
 * each edge labelled with the dollars that flowed along it (`~` = estimate), the costliest
 * (run, agent, model) path drawn thick and red. Plain Mermaid text: save it as a `.mmd` file or
 * paste it into a Markdown ```` ```mermaid ```` block.
 */
export function renderMermaid(g: FlowGraph, notes: string[]): string {
  const out = ['flowchart LR'];
  out.push(
    comment('tokenledger · money flow: run → agent → model; edges carry the dollars spent along them'),
  );
  for (const n of notes) out.push(comment(n));
  if (g.nodes.length === 0) {
    out.push('  empty["No usage found"]');
    return out.join('\n');
  }
  if (g.costliest) out.push(comment('thick red = the costliest run → agent → model path'));
  for (const n of g.nodes)
    out.push(`  ${n.id}["${mermaidText(n.label)}<br/>${mermaidText(costText(n.tally))}"]`);
  g.edges.forEach((e) => {
    out.push(`  ${e.from} -->|"${mermaidText(costText(e.tally))}"| ${e.to}`);
  });
  const hot = g.edges.flatMap((e, i) => (e.costliest ? [i] : []));
  if (hot.length) {
    const ids = [...new Set(g.edges.filter((e) => e.costliest).flatMap((e) => [e.from, e.to]))];
    out.push(`  classDef costliest stroke:${COSTLIEST_COLOUR},stroke-width:3px`);
    out.push(`  class ${ids.join(',')} costliest`);
    out.push(`  linkStyle ${hot.join(',')} stroke:${COSTLIEST_COLOUR},stroke-width:4px`);
  }
  return out.join('\n');
}
