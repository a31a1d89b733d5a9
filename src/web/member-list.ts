import type { Member, PresenceEvent } from '../client/index.js'
import { element } from './dom.js'

/** The room's members with their presence: online now, or seen here and gone offline. */
export class MemberList {
  readonly #list: HTMLUListElement
  readonly #me: () => Member | undefined
  readonly #members = new Map<string, { username: string, online: boolean }>()

  constructor (list: HTMLUListElement, me: () => Member | undefined) {
    this.#list = list
    this.#me = me
  }

  clear (): void {
    this.#members.clear()
    this.#render()
  }

  /** The online members as a join answered them: everyone else shown turns offline. */
  reset (online: Member[]): void {
    for (const member of this.#members.values()) member.online = false
    for (const member of online) this.#members.set(member.userId, { username: member.username, online: true })
    this.#render()
  }

  presence (event: PresenceEvent): void {
    this.#members.set(event.userId, { username: event.username, online: event.status === 'online' })
    this.#render()
  }

  #render (): void {
    const me = this.#me()?.userId
    const sorted = [...this.#members.entries()].sort(([, a], [, b]) =>
      Number(b.online) - Number(a.online) || a.username.localeCompare(b.username))
    this.#list.replaceChildren(...sorted.map(([userId, member]) => {
      const item = element('li', member.online ? 'online' : 'offline')
      const dot = element('span', 'presence-dot')
      dot.setAttribute('aria-hidden', 'true')
      const name = userId === me ? `${member.username} (you)` : member.username
      item.append(dot, element('span', 'name', name), element('span', 'visually-hidden', member.online ? ', online' : ', offline'))
      return item
    }))
  }
}
