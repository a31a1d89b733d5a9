import type { Member, PresenceEvent, RoomInfo } from '../client/index.js'
import { element } from './dom.js'

/**
 * The room's members with their presence (online now, or seen here and gone offline), their
 * role (owner, moderator), their user id (to copy into an invitation), and what this user may do
 * with each: open a direct message, and as owner or moderator kick or ban, as owner name or
 * unname moderators. Every action is a labelled button.
 */

export type MemberAction = 'message' | 'kick' | 'ban' | 'promote' | 'demote'

const ACTION_TEXT: Readonly<Record<MemberAction, string>> = {
  message: 'Message',
  kick: 'Kick',
  ban: 'Ban',
  promote: 'Make moderator',
  demote: 'Remove moderator'
}

export class MemberList {
  readonly #list: HTMLUListElement
  readonly #me: () => Member | undefined
  readonly #act: (action: MemberAction, member: Member) => void
  readonly #members = new Map<string, { username: string, online: boolean }>()
  #info: RoomInfo = { staff: [], direct: false }

  constructor (list: HTMLUListElement, me: () => Member | undefined, act: (action: MemberAction, member: Member) => void) {
    this.#list = list
    this.#me = me
    this.#act = act
  }

  clear (): void {
    this.#members.clear()
    this.#info = { staff: [], direct: false }
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

  /** Roles and room kind, from the join or a role change. */
  setInfo (info: RoomInfo): void {
    this.#info = info
    this.#render()
  }

  #roleOf (userId: string): 'owner' | 'moderator' | undefined {
    return this.#info.staff.find((member) => member.userId === userId)?.role
  }

  #actions (userId: string): MemberAction[] {
    if (userId === this.#me()?.userId) return []
    const actions: MemberAction[] = this.#info.direct ? [] : ['message']
    const mine = this.#info.role
    const theirs = this.#roleOf(userId)
    if (this.#info.direct || theirs === 'owner') return actions
    if (mine === 'owner' || (mine === 'moderator' && theirs === undefined)) actions.push('kick', 'ban')
    if (mine === 'owner') actions.push(theirs === 'moderator' ? 'demote' : 'promote')
    return actions
  }

  #render (): void {
    const me = this.#me()?.userId
    const sorted = [...this.#members.entries()].sort(([, a], [, b]) =>
      Number(b.online) - Number(a.online) || a.username.localeCompare(b.username))
    this.#list.replaceChildren(...sorted.map(([userId, member]) => {
      const item = element('li', member.online ? 'online' : 'offline')
      item.dataset.userId = userId
      const dot = element('span', 'presence-dot')
      dot.setAttribute('aria-hidden', 'true')
      const name = userId === me ? `${member.username} (you)` : member.username
      item.append(dot, element('span', 'name', name))
      const role = this.#roleOf(userId)
      if (role !== undefined) item.append(element('span', 'role', role))
      item.append(element('span', 'visually-hidden', member.online ? ', online' : ', offline'))
      const id = element('code', 'user-id', userId)
      id.title = `${member.username}'s user id`
      item.append(id)
      const actions = this.#actions(userId)
      if (actions.length > 0) {
        const group = element('span', 'member-actions')
        for (const action of actions) {
          const button = element('button', 'secondary', ACTION_TEXT[action])
          button.type = 'button'
          button.setAttribute('aria-label', `${ACTION_TEXT[action]}: ${member.username}`)
          button.addEventListener('click', () => this.#act(action, { userId, username: member.username }))
          group.append(button)
        }
        item.append(group)
      }
      return item
    }))
  }
}
