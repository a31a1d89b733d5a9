/**
 * The page's only ways to make DOM: elements by id with their type checked, and new elements
 * whose text is set through textContent. User data never goes through innerHTML.
 */

export function byId<T extends HTMLElement> (id: string, type: new () => T): T {
  const found = document.getElementById(id)
  if (!(found instanceof type)) throw new Error(`#${id} is missing or not a ${type.name}`)
  return found
}

export function element<K extends keyof HTMLElementTagNameMap> (tag: K, className = '', text?: string): HTMLElementTagNameMap[K] {
  const created = document.createElement(tag)
  if (className !== '') created.className = className
  if (text !== undefined) created.textContent = text
  return created
}
