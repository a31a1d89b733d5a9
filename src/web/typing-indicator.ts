import type { TypingEvent } from '../client/index.js'

/**
 * "alice is typing…": who typed in the room lately. An entry expires by itself, since a
 * `typing: false` can be lost with its sender's connection.
 */

const EXPIRE_AFTER_MS = 6000

export class TypingIndicator {
  readonly #element: HTMLElement
  readonly #typing = new Map<string, { username: string, timer: ReturnType<typeof setTimeout> }>()

  constructor (element: HTMLElement) {
    this.#element = element
  }

  update (event: TypingEvent): void {
    clearTimeout(this.#typing.get(event.userId)?.timer)
    if (event.typing) {
      const timer = setTimeout(() => this.update({ ...event, typing: false }), EXPIRE_AFTER_MS)
      this.#typing.set(event.userId, { username: event.username, timer })
    } else {
      this.#typing.delete(event.userId)
    }
    this.#render()
  }

  clear (): void {
    for (const { timer } of this.#typing.values()) clearTimeout(timer)
    this.#typing.clear()
    this.#render()
  }

  #render (): void {
    const names = [...this.#typing.values()].map((entry) => entry.username)
    this.#element.textContent = names.length === 0
      ? ''
      : names.length === 1
        ? `${names[0]} is typing…`
        : names.length === 2 ? `${names[0]} and ${names[1]} are typing…` : 'Several people are typing…'
  }
}
