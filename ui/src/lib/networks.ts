//! How each network looks in the UI: its colour and the letter drawn in its icon. Drawn here,
//! never loaded from anywhere (the app runs under a strict CSP with no remote origins).

import type { Network } from './bindings/Network';

export interface NetworkStyle {
  colour: string;
  letter: string;
  /** Text colour on `colour`. */
  ink: string;
}

export const NETWORK_STYLE: Record<Network, NetworkStyle> = {
  bluesky: { colour: '#1185fe', letter: 'B', ink: '#ffffff' },
  x: { colour: '#14171a', letter: 'X', ink: '#ffffff' },
  linkedin: { colour: '#0a66c2', letter: 'in', ink: '#ffffff' },
  pinterest: { colour: '#e60023', letter: 'P', ink: '#ffffff' },
  facebook: { colour: '#1877f2', letter: 'f', ink: '#ffffff' },
  instagram: { colour: '#c13584', letter: 'IG', ink: '#ffffff' },
  threads: { colour: '#3a3a3a', letter: '@', ink: '#ffffff' },
  tiktok: { colour: '#111111', letter: 'T', ink: '#25f4ee' },
  youtube: { colour: '#ff0000', letter: '▶', ink: '#ffffff' },
};

const SVG_NS = 'http://www.w3.org/2000/svg';

/** The same icon as NetworkIcon.svelte, as a DOM node (for FullCalendar's event content hook). */
export function networkIconNode(doc: Document, network: Network, size = 14): SVGSVGElement {
  const s = NETWORK_STYLE[network];
  const svg = doc.createElementNS(SVG_NS, 'svg');
  svg.setAttribute('width', String(size));
  svg.setAttribute('height', String(size));
  svg.setAttribute('viewBox', '0 0 24 24');
  svg.setAttribute('aria-hidden', 'true');
  svg.setAttribute('class', 'net-icon');
  const c = doc.createElementNS(SVG_NS, 'circle');
  c.setAttribute('cx', '12');
  c.setAttribute('cy', '12');
  c.setAttribute('r', '11');
  c.setAttribute('fill', s.colour);
  c.setAttribute('stroke', '#ffffff');
  c.setAttribute('stroke-width', '1.5');
  const t = doc.createElementNS(SVG_NS, 'text');
  t.setAttribute('x', '12');
  t.setAttribute('y', '16.5');
  t.setAttribute('text-anchor', 'middle');
  t.setAttribute('font-size', s.letter.length > 1 ? '10' : '13');
  t.setAttribute('font-weight', '700');
  t.setAttribute('font-family', 'system-ui, sans-serif');
  t.setAttribute('fill', s.ink);
  t.textContent = s.letter;
  svg.append(c, t);
  return svg;
}

/** A lighter icon for calendar chips (colours in app.css, `.net-dot.net-<network>`) (hundreds at once): a coloured letter disc in one span. */
export function networkBadgeNode(doc: Document, network: Network): HTMLSpanElement {
  const s = NETWORK_STYLE[network];
  const el = doc.createElement('span');
  el.className = `net-dot net-${network}`;
  el.setAttribute('aria-hidden', 'true');
  el.textContent = s.letter;
  return el;
}
