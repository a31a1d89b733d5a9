import { TEXT_MAX_CODE_POINTS } from '../protocol/limits.js'
import { backoffDelayMs, sleep, type BackoffOptions } from './backoff.js'
import type { SendDelivered, SendFailed, SendOutcome, SendStatus } from './client-events.js'
import { CLOSED, NO_ANSWER, type ClientError } from './errors.js'
import type { Requester } from './request.js'

/**
 * The client's sends, one at a time in the order they were made (so one user's messages are
 * stored in the order typed, and a rate limit holds back the ones behind it too). Each message
 * gets its clientMsgId once and keeps it on every retry, so a retry after a lost ack is
 * answered with the first seq and nothing is stored twice. Retries wait for the room to be
 * joined again after a reconnect, and at least the server's retryAfterMs.
 */

export interface OutboxDeps {
  request: Requester
  /** Resolves true once the room is joined on a live connection, false when it never will be. */
  whenJoined: (room: string) => Promise<boolean>
  emit: (status: SendStatus) => void
  signal: AbortSignal
  backoff: BackoffOptions
  maxAttempts: number
}

interface Queued {
  clientMsgId: string
  room: string
  text: string
  resolve: (outcome: SendOutcome) => void
}

/** Answers worth another try with the same clientMsgId; every other code is final. */
const RETRYABLE = new Set(['E_NO_ANSWER', 'E_RATE_LIMITED', 'E_OVERLOADED', 'E_INTERNAL', 'E_NOT_MEMBER'])

/** A clientMsgId (PROTOCOL.md: 8–64 of [A-Za-z0-9_-]) from 128 random bits; works outside secure contexts too. */
export function newClientMsgId (): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16))
  return Array.from(bytes, (byte) => byte.toString(16).padStart(2, '0')).join('')
}

/** The text as the server will count it: NFC, trimmed, in code points. */
function checkText (text: string): ClientError | undefined {
  const length = [...text.normalize('NFC').trim()].length
  if (length === 0) return { code: 'E_VALIDATION', message: 'the message is empty' }
  // Refused here: a frame over the server's cap would cost the whole connection.
  if (length > TEXT_MAX_CODE_POINTS) return { code: 'E_TOO_LARGE', message: `the message is longer than ${TEXT_MAX_CODE_POINTS} characters` }
  return undefined
}

export class Outbox {
  readonly #deps: OutboxDeps
  readonly #queue: Queued[] = []
  #running = false

  constructor (deps: OutboxDeps) {
    this.#deps = deps
  }

  send (room: string, text: string, clientMsgId: string): Promise<SendOutcome> {
    return new Promise((resolve) => {
      this.#queue.push({ clientMsgId, room, text, resolve })
      this.#deps.emit({ state: 'pending', clientMsgId, room, text, attempt: 0 })
      if (!this.#running) void this.#drain()
    })
  }

  async #drain (): Promise<void> {
    this.#running = true
    for (let item = this.#queue[0]; item !== undefined; item = this.#queue[0]) {
      const outcome = await this.#deliver(item)
      this.#queue.shift()
      this.#deps.emit(outcome)
      item.resolve(outcome)
    }
    this.#running = false
  }

  async #deliver (item: Queued): Promise<SendOutcome> {
    const { clientMsgId, room, text } = item
    const failed = (error: ClientError): SendFailed => ({ state: 'failed', clientMsgId, room, text, error })
    const invalid = checkText(text)
    if (invalid !== undefined) return failed(invalid)
    let error: ClientError = NO_ANSWER
    for (let attempt = 1; attempt <= this.#deps.maxAttempts; attempt++) {
      if (!await this.#deps.whenJoined(room)) return failed(this.#deps.signal.aborted ? CLOSED : { code: 'E_NOT_MEMBER', message: `not in room ${room}` })
      const ack = await this.#deps.request('message:send', { room, text, clientMsgId })
      if (ack?.ok === true) {
        const delivered: SendDelivered = { state: 'delivered', clientMsgId, room, text, id: ack.id, seq: ack.seq, ts: ack.ts }
        return delivered
      }
      error = ack?.error ?? NO_ANSWER
      if (!RETRYABLE.has(error.code) || attempt === this.#deps.maxAttempts) break
      // A lost connection needs no extra wait: whenJoined waits for the rejoin.
      const retryInMs = error.retryAfterMs ?? (ack === undefined ? 0 : backoffDelayMs(attempt, this.#deps.backoff))
      this.#deps.emit({ state: 'pending', clientMsgId, room, text, attempt, retryInMs, error })
      if (retryInMs > 0 && !await sleep(retryInMs, this.#deps.signal)) return failed(CLOSED)
    }
    return failed(error)
  }
}
