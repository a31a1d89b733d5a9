import type { z } from 'zod'
import { ChatError, errorBody } from '../errors.js'
import type { Ack, AckError } from '../protocol/events.js'
import { describeIssue } from '../protocol/schemas.js'
import type { RealtimeContext } from './context.js'
import { INVALID_EVENT } from './parser.js'
import type { ChatSocket } from './types.js'

/**
 * How every client → server event is run. The last argument is the ack (if it is a function),
 * the first is the payload. A socket's events run one at a time, in the order they arrived (a
 * join and a leave never interleave); a send counts as run once its write is queued to the store,
 * so a client's sends are stored in the order it sent them while their commits overlap (see
 * Pipelined). A socket with too many events queued is answered E_RATE_LIMITED at once. The
 * handler's result or error becomes exactly one ack, counted by code. Expected failures are
 * ChatErrors; anything else is logged once with context and answered E_INTERNAL. Nothing a
 * payload does can throw past this point.
 */

/** A response plus work that must happen right after the ack is written, in the same turn. */
export interface Deferred<T extends Ack = Ack> {
  response: T
  afterAck: () => void
}

/**
 * An event whose ordered part is done (a send whose write is queued to the store, behind the
 * socket's earlier writes) but whose ack waits for more (the commit). The socket's next event
 * runs at once; the ack goes out when `pending` settles. A burst of sends from one socket thus
 * goes to the store together instead of one commit after another.
 */
export interface Pipelined {
  pending: Promise<Ack>
}

/** `receivedAt`: performance.now() when the event was read off the socket, before its queue. */
export type Handler = (socket: ChatSocket, payload: unknown, receivedAt: number) => Promise<Ack | Deferred | Pipelined> | Ack | Deferred | Pipelined

type AckFunction = (response: Ack) => void

/** Counts events being handled in this worker, so the drain can wait for them. */
export class InFlight {
  #count = 0
  #waiters: Array<() => void> = []

  get count (): number {
    return this.#count
  }

  enter (): void {
    this.#count++
  }

  exit (): void {
    if (--this.#count === 0) for (const resolve of this.#waiters.splice(0)) resolve()
  }

  /** Resolves once no event is being handled. */
  async idle (): Promise<void> {
    if (this.#count === 0) return
    await new Promise<void>((resolve) => this.#waiters.push(resolve))
  }
}

export interface QueuedEvent {
  event: string
  handler: Handler
  payload: unknown
  ack: ((response: Ack) => void) | undefined
  receivedAt: number
}

/** Per-socket event queue. */
interface EventQueue {
  items: QueuedEvent[]
  running: boolean
}

const queues = new WeakMap<ChatSocket, EventQueue>()

export function deferred<T extends Ack> (response: T, afterAck: () => void): Deferred<T> {
  return { response, afterAck }
}

function isDeferred (value: Ack | Deferred | Pipelined): value is Deferred {
  return 'afterAck' in value
}

function isPipelined (value: Ack | Deferred | Pipelined): value is Pipelined {
  return 'pending' in value
}

export function errorAck (error: ChatError): AckError {
  return { ok: false, error: error.toBody() }
}

/** Parses a payload with a schema, throwing E_VALIDATION with the first issue's text. */
export function parse<T extends z.ZodType> (schema: T, payload: unknown): z.infer<T> {
  const result = schema.safeParse(payload)
  if (!result.success) throw new ChatError('E_VALIDATION', describeIssue(result.error))
  return result.data
}

/** Queues one received event on its socket; it runs after the socket's earlier events. */
export function enqueue (context: RealtimeContext, socket: ChatSocket, item: QueuedEvent): void {
  let queue = queues.get(socket)
  if (queue === undefined) {
    queue = { items: [], running: false }
    queues.set(socket, queue)
  }
  if (queue.items.length >= context.config.SOCKET_MAX_QUEUED_EVENTS) {
    const error = new ChatError('E_RATE_LIMITED', 'too many events waiting for their ack', { retryAfterMs: 250 })
    respond(context, item, errorAck(error))
    context.metrics.rateLimited.inc({ kind: 'queue' })
    return
  }
  context.inFlight.enter()
  queue.items.push(item)
  if (!queue.running) void drain(context, socket, queue)
}

async function drain (context: RealtimeContext, socket: ChatSocket, queue: EventQueue): Promise<void> {
  queue.running = true
  for (let item = queue.items.shift(); item !== undefined; item = queue.items.shift()) {
    await run(context, socket, item)
  }
  queue.running = false
}

async function run (context: RealtimeContext, socket: ChatSocket, item: QueuedEvent): Promise<void> {
  let pipelined = false
  try {
    let result: Ack | Deferred | Pipelined
    try {
      const retryAfterMs = await context.limits.event(socket.id)
      if (retryAfterMs !== undefined) throw new ChatError('E_RATE_LIMITED', 'too many events, slow down', { retryAfterMs })
      result = await item.handler(socket, item.payload, item.receivedAt)
    } catch (error) {
      result = toErrorAck(context, socket, item.event, error)
    }
    if (isPipelined(result)) {
      // The event stays in flight (the drain waits for it) until its ack is written.
      pipelined = true
      result.pending
        .catch((error: unknown) => toErrorAck(context, socket, item.event, error))
        .then((response) => respond(context, item, response))
        .finally(() => context.inFlight.exit())
        .catch(() => {})
    } else if (isDeferred(result)) {
      respond(context, item, result.response)
      try {
        result.afterAck()
      } catch (error) {
        context.logger.error({ err: error, event: item.event, socket: socket.id }, 'after-ack step failed')
      }
    } else {
      respond(context, item, result)
    }
  } finally {
    if (!pipelined) context.inFlight.exit()
  }
}

function respond (context: RealtimeContext, item: QueuedEvent, response: Ack): void {
  context.metrics.acks.inc({ event: item.event, code: response.ok ? 'ok' : response.error.code })
  item.ack?.(response)
}

function toErrorAck (context: RealtimeContext, socket: ChatSocket, event: string, error: unknown): AckError {
  if (error instanceof ChatError) {
    if (error.code === 'E_RATE_LIMITED') context.metrics.rateLimited.inc({ kind: event })
    return errorAck(error)
  }
  context.logger.error({ err: error, event, socket: socket.id, userId: socket.data.userId }, 'event handler failed')
  return { ok: false, error: errorBody('E_INTERNAL', 'internal error') }
}

/** Answers an event that is not part of the protocol (or could not be decoded) with E_VALIDATION. */
export function answerUnknown (context: RealtimeContext, event: unknown, args: unknown[]): void {
  const ack = args[args.length - 1]
  context.metrics.acks.inc({ event: 'unknown', code: 'E_VALIDATION' })
  if (typeof ack !== 'function') return
  const message = event === INVALID_EVENT ? 'malformed event packet' : `unknown event ${JSON.stringify(String(event).slice(0, 64))}`
  ;(ack as AckFunction)({ ok: false, error: errorBody('E_VALIDATION', message) })
}
