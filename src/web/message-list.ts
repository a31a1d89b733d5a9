import type { Member, Message, SendPending, SendStatus } from '../client/index.js'
import { element } from './dom.js'
import { describeError } from './error-text.js'

/**
 * The conversation: stored messages in seq order, and below them this user's sends that are not
 * stored yet (sending, or failed with a Retry button). A send's element turns into the stored
 * message when its broadcast arrives (matched by clientMsgId), so it never shows twice. Older
 * history loads when the top of the log scrolls into view, or on its button.
 */

export interface MessageListOptions {
  log: HTMLElement
  list: HTMLOListElement
  olderButton: HTMLButtonElement
  /** The signed-in user, to tell own messages apart. */
  me: () => Member | undefined
  retry: (status: SendStatus) => void
  /** Loads the page before the oldest shown; resolves whether more remain. */
  loadOlder: () => Promise<boolean>
  /** Whether this user may delete a message (own, or any as owner or moderator). */
  canDelete: (message: Message) => boolean
  delete: (message: Message) => void
}

const NEAR_BOTTOM_PX = 80
const timeFormat = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit' })
const dateTimeFormat = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'medium' })

function pendingLabel (status: SendPending): string {
  if (status.error === undefined) return 'Sending…'
  // No answer: the connection dropped or the server was slow; the client sends it again.
  if (status.error.code === 'E_NO_ANSWER') return 'Sending again…'
  return `Waiting to send: ${describeError(status.error)}`
}

export class MessageList {
  readonly #options: MessageListOptions
  /** Elements of own messages by clientMsgId, sent or stored. */
  readonly #own = new Map<string, HTMLLIElement>()
  /** The stored message each element shows. */
  readonly #shown = new WeakMap<HTMLLIElement, Message>()
  #hasOlder = false
  #loading = false

  constructor (options: MessageListOptions) {
    this.#options = options
    options.olderButton.addEventListener('click', () => { void this.#loadOlder() })
    new IntersectionObserver((entries) => {
      if (entries.some((entry) => entry.isIntersecting)) void this.#loadOlder()
    }, { root: options.log }).observe(options.olderButton)
  }

  clear (): void {
    this.#options.list.replaceChildren()
    this.#own.clear()
    this.setHasOlder(false)
  }

  /** The seq of the oldest message shown. */
  get oldestSeq (): number | undefined {
    const first = this.#options.list.querySelector<HTMLElement>('[data-seq]')
    return first === null ? undefined : Number(first.dataset.seq)
  }

  setHasOlder (hasOlder: boolean): void {
    this.#hasOlder = hasOlder
    this.#options.olderButton.hidden = !hasOlder
  }

  /** A stored message, newer than every one shown. */
  append (message: Message): void {
    const follow = this.#nearBottom() || message.userId === this.#options.me()?.userId
    const pending = this.#own.get(message.clientMsgId)
    const item = pending !== undefined && message.userId === this.#options.me()?.userId ? pending : element('li')
    this.#render(item, message)
    item.classList.remove('unsent', 'failed')
    item.querySelector('.retry')?.remove()
    if (item === pending) this.#setStatus(item, 'Delivered')
    this.#options.list.insertBefore(item, this.#options.list.querySelector('.unsent'))
    if (follow) this.scrollToEnd()
  }

  /** Own sends as the client reports them: pending → delivered, or failed. */
  showSend (status: SendStatus): void {
    let item = this.#own.get(status.clientMsgId)
    if (item === undefined) {
      if (status.state !== 'pending') return
      item = element('li', 'message own unsent')
      item.append(this.#meta(this.#options.me()?.username ?? '', undefined), element('p', 'text', status.text))
      this.#own.set(status.clientMsgId, item)
      this.#options.list.append(item)
      this.scrollToEnd()
    }
    item.querySelector('.retry')?.remove()
    if (status.state === 'pending') {
      item.classList.remove('failed')
      this.#setStatus(item, pendingLabel(status))
    } else if (status.state === 'delivered') {
      this.#setStatus(item, 'Delivered')
    } else {
      item.classList.add('failed')
      this.#setStatus(item, `Not sent: ${describeError(status.error)}`)
      const retry = element('button', 'retry', 'Retry')
      retry.type = 'button'
      retry.setAttribute('aria-label', `Retry sending: ${status.text.slice(0, 80)}`)
      retry.addEventListener('click', () => this.#options.retry(status))
      item.append(retry)
    }
  }

  /** Older messages, above every one shown; the view stays where the reader is. */
  prepend (messages: Message[]): void {
    const { log, list } = this.#options
    const fromBottom = log.scrollHeight - log.scrollTop
    list.prepend(...messages.map((message) => this.#render(element('li'), message)))
    log.scrollTop = log.scrollHeight - fromBottom
  }

  /** A message was deleted: it stays in its place as a tombstone. */
  markDeleted (seq: number): void {
    const item = this.#options.list.querySelector<HTMLLIElement>(`li[data-seq="${seq}"]`)
    const message = item === null ? undefined : this.#shown.get(item)
    if (item === null || message === undefined) return
    this.#render(item, { ...message, text: '', deleted: true })
  }

  /** Roles changed: show or hide the delete buttons. */
  refreshActions (): void {
    for (const item of this.#options.list.querySelectorAll<HTMLLIElement>('li[data-seq]')) {
      const message = this.#shown.get(item)
      if (message !== undefined) this.#render(item, message)
    }
  }

  scrollToEnd (): void {
    this.#options.log.scrollTop = this.#options.log.scrollHeight
  }

  async #loadOlder (): Promise<void> {
    if (!this.#hasOlder || this.#loading) return
    this.#loading = true
    try {
      this.setHasOlder(await this.#options.loadOlder())
    } finally {
      this.#loading = false
    }
  }

  #render (item: HTMLLIElement, message: Message): HTMLLIElement {
    const own = message.userId === this.#options.me()?.userId
    const deleted = message.deleted === true
    item.className = `message${own ? ' own' : ''}${deleted ? ' deleted' : ''}`
    item.dataset.seq = String(message.seq)
    const status = item.querySelector('.status')
    item.replaceChildren(this.#meta(message.username, message.ts), element('p', 'text', deleted ? 'Message deleted' : message.text))
    if (status !== null) item.querySelector('.meta')?.append(status)
    if (!deleted && this.#options.canDelete(message)) {
      const remove = element('button', 'secondary delete', 'Delete')
      remove.type = 'button'
      remove.setAttribute('aria-label', `Delete message from ${message.username}: ${message.text.slice(0, 80)}`)
      remove.addEventListener('click', () => this.#options.delete(message))
      item.querySelector('.meta')?.append(remove)
    }
    this.#shown.set(item, message)
    if (own) this.#own.set(message.clientMsgId, item)
    return item
  }

  #meta (author: string, ts: number | undefined): HTMLElement {
    const meta = element('div', 'meta')
    meta.append(element('span', 'author', author))
    if (ts !== undefined) {
      const time = element('time', '', timeFormat.format(ts))
      time.dateTime = new Date(ts).toISOString()
      time.title = dateTimeFormat.format(ts)
      meta.append(time)
    }
    return meta
  }

  #setStatus (item: HTMLLIElement, text: string): void {
    let status = item.querySelector('.status')
    if (status === null) {
      status = element('span', 'status')
      item.querySelector('.meta')?.append(status)
    }
    status.textContent = text
  }

  #nearBottom (): boolean {
    const { log } = this.#options
    return log.scrollHeight - log.scrollTop - log.clientHeight < NEAR_BOTTOM_PX
  }
}
