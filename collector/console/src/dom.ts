/** A small element builder: the console renders with plain DOM, no framework. */

export type Child = Node | string | number | null | undefined | false;

/** `h('td', { class: 'num', 'data-field': 'median' }, '102,5')`: attributes as strings; null/false children are skipped. */
export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attributes: Record<string, string | undefined> = {}, ...children: Child[]): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) if (value !== undefined) element.setAttribute(name, value);
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    element.append(typeof child === 'number' ? String(child) : child);
  }
  return element;
}
