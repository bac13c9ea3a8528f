// A few DOM helpers; the app renders plain elements (no framework).

type Child = Node | string | number | null | undefined | false | Child[];
type Attrs = Record<string, string | number | boolean | EventListener | null | undefined>;

/** Create an element: `h('button', { class: 'primary', onclick: f }, 'Buy')`. */
export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Attrs = {}, ...children: Child[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v == null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (v === true) el.setAttribute(k, '');
    else el.setAttribute(k, String(v));
  }
  append(el, children);
  return el;
}

function append(el: Element, children: Child[]): void {
  for (const c of children) {
    if (c == null || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.append(c instanceof Node ? c : String(c));
  }
}

/** Replace `el`'s content. */
export function mount(el: Element, ...children: Child[]): void {
  el.replaceChildren();
  append(el, children);
}

/** A status line: `info`, `busy`, `ok` or `error`, announced to screen readers. */
export function notice(kind: 'info' | 'busy' | 'ok' | 'error', text: string, ...extra: Child[]): HTMLElement {
  return h('div', { class: `notice ${kind}`, role: kind === 'error' ? 'alert' : 'status' }, kind === 'busy' ? h('span', { class: 'spinner', 'aria-hidden': 'true' }) : null, h('span', {}, text), ...extra);
}

/** A labelled definition list from pairs. */
export function facts(pairs: [string, Child][]): HTMLElement {
  return h('dl', { class: 'facts' }, pairs.map(([k, v]) => [h('dt', {}, k), h('dd', {}, v)]));
}

/** A progress bar (0..1). */
export function progressBar(label: string, fraction: number): HTMLElement {
  return h('div', { class: 'progress' }, h('span', {}, label), h('progress', { max: 1, value: fraction, 'aria-label': label }));
}
