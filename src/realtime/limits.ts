import type { Redis } from 'ioredis'
import { BurstyRateLimiter, RateLimiterCluster, RateLimiterMemory, RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible'
import { ChatError } from '../errors.js'

/**
 * Rate limits of the real-time API, all from rate-limiter-flexible:
 * - messages per user, a steady rate plus a burst, one budget however many tabs: while all of a
 *   user's sockets are on this worker the counters live here (no IPC per message); once the
 *   user has sockets on another worker too, RateLimiterCluster keeps them in the primary for
 *   every worker. (Switching between the two starts the other counter afresh, so a user who
 *   opens a tab on a second worker may get one extra burst.)
 * - with several VMs (REDIS_URL), a user with sockets on more than one worker is counted in Redis
 *   (RateLimiterRedis), shared by every VM; while Redis is away each worker counts alone
 *   (its in-memory insurance limiter), so limits loosen for that time but never refuse everyone;
 * - typing per user and room, per worker (cheap, and typing is only a hint);
 * - any event per socket, per worker, so nobody floods history or joins;
 * - new connections per client address, shared by every worker.
 */

export interface LimitsOptions {
  messageRatePerS: number
  messageBurst: number
  typingRatePerS: number
  eventRatePerS: number
  eventBurst: number
  connectionRatePerIpPerS: number
  connectionBurstPerIp: number
  /** True in a cluster worker (use the primary's counters), false for a single process (tests of parts). */
  clustered: boolean
  /** With several VMs: the Redis connection that keeps shared message budgets. */
  redis?: Redis
}

/** Points and window for a fractional rate: 0.5/s is 1 point per 2 s. */
function window (ratePerS: number): { points: number, duration: number } {
  const duration = Math.max(1, Math.ceil(1 / ratePerS))
  return { points: Math.max(1, Math.round(ratePerS * duration)), duration }
}

interface Consumer { consume: (key: string, points?: number) => Promise<unknown> }

function limiter (clustered: boolean, keyPrefix: string, points: number, duration: number): Consumer {
  const options = { keyPrefix, points, duration }
  return clustered ? new RateLimiterCluster({ ...options, timeoutMs: 2000 }) : new RateLimiterMemory(options)
}

/** A rejection as the retry delay, or undefined when the key still had points. */
async function check (consumer: Consumer, key: string): Promise<number | undefined> {
  try {
    await consumer.consume(key)
    return undefined
  } catch (rejection) {
    if (rejection instanceof RateLimiterRes) return Math.max(1, rejection.msBeforeNext)
    // The primary did not answer in time: fail open rather than refuse everyone.
    return undefined
  }
}

export interface Limits {
  /** Throws E_RATE_LIMITED when the user is over the message rate; `localOnly` when all its sockets are here. */
  message: (userId: string, localOnly: boolean) => Promise<void>
  /** Resolves the retry delay when the user types in the room too often (acked E_RATE_LIMITED). */
  typing: (userId: string, room: string) => Promise<number | undefined>
  /** Resolves the retry delay when the socket sends events too fast. */
  event: (socketId: string) => Promise<number | undefined>
  /** Resolves the retry delay when the address opens connections too fast. */
  connection: (address: string) => Promise<number | undefined>
}

export function createLimits (options: LimitsOptions): Limits {
  const steady = window(options.messageRatePerS)
  const burstDuration = Math.max(1, Math.ceil(options.messageBurst / options.messageRatePerS))
  const messageLimiter = (clustered: boolean): BurstyRateLimiter => new BurstyRateLimiter(
    limiter(clustered, 'chat-msg', steady.points, steady.duration) as RateLimiterMemory,
    limiter(clustered, 'chat-msg-burst', options.messageBurst, burstDuration) as RateLimiterMemory
  )
  const localMessages = messageLimiter(false)
  const redisLimiter = (redis: Redis, keyPrefix: string, points: number, duration: number): RateLimiterRedis => new RateLimiterRedis({
    storeClient: redis,
    keyPrefix,
    points,
    duration,
    rejectIfRedisNotReady: true,
    insuranceLimiter: new RateLimiterMemory({ keyPrefix: `${keyPrefix}-insurance`, points, duration })
  })
  const sharedMessages = options.redis !== undefined
    ? new BurstyRateLimiter(
      redisLimiter(options.redis, 'chat-msg', steady.points, steady.duration),
      redisLimiter(options.redis, 'chat-msg-burst', options.messageBurst, burstDuration))
    : options.clustered ? messageLimiter(true) : localMessages
  const typingWindow = window(options.typingRatePerS)
  const typing = new RateLimiterMemory({ keyPrefix: 'chat-typing', ...typingWindow })
  const eventWindow = window(options.eventRatePerS)
  const events = new BurstyRateLimiter(
    new RateLimiterMemory({ keyPrefix: 'chat-event', ...eventWindow }),
    new RateLimiterMemory({ keyPrefix: 'chat-event-burst', points: options.eventBurst, duration: Math.max(1, Math.ceil(options.eventBurst / options.eventRatePerS)) })
  )
  const connectionsOff = options.connectionRatePerIpPerS === 0
  const connections = connectionsOff
    ? undefined
    : new BurstyRateLimiter(
      limiter(options.clustered, 'chat-conn', window(options.connectionRatePerIpPerS).points, window(options.connectionRatePerIpPerS).duration) as RateLimiterMemory,
      limiter(options.clustered, 'chat-conn-burst', options.connectionBurstPerIp, Math.max(1, Math.ceil(options.connectionBurstPerIp / options.connectionRatePerIpPerS))) as RateLimiterMemory
    )

  return {
    async message (userId, localOnly) {
      const retryAfterMs = await check(localOnly ? localMessages : sharedMessages, userId)
      if (retryAfterMs !== undefined) throw new ChatError('E_RATE_LIMITED', 'too many messages, slow down', { retryAfterMs })
    },
    typing: async (userId, room) => await check(typing, `${userId}:${room}`),
    event: async (socketId) => await check(events, socketId),
    connection: async (address) => connections === undefined ? undefined : await check(connections, address)
  }
}
