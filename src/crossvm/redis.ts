import { Redis } from 'ioredis'
import type { Logger } from 'pino'

/**
 * Redis connections between VMs (REDIS_URL). Redis carries only what can be lost and caught up:
 * committed messages (each one is in the store before it is published, and receivers fill any
 * gap from the store), presence, typing, evictions. So a connection never queues commands while
 * Redis is away (no offline queue: a publish fails at once and is counted) and reconnects by
 * itself, every 100 ms at first and at most every second.
 *
 * A connection can also hang without closing (a network path that black-holes it): commands
 * time out after COMMAND_TIMEOUT_MS, and a watchdog PINGs every connection that sends commands;
 * one that does not answer is dropped and reconnected. (The subscriber cannot PING while
 * subscribed: bridge.ts probes it through its own channel instead.)
 */

export const MESSAGES_CHANNEL = 'chat:messages'
export const EVENTS_CHANNEL = 'chat:events'

export interface RedisConnectionOptions {
  url: string
  /** Shown in logs and metrics: publisher, subscriber, limiter. */
  role: string
  logger: Logger
  /** Hears the connection going up (true) or down (false). */
  onState?: (up: boolean) => void
  /**
   * Queue commands while disconnected: only for the subscriber, whose SUBSCRIBE must wait for
   * the first connection (later ones resubscribe by themselves).
   */
  queueWhileDown?: boolean
}

const closing = new WeakSet<Redis>()
const COMMAND_TIMEOUT_MS = 2000
const WATCHDOG_INTERVAL_MS = 2000

export function connectRedis (options: RedisConnectionOptions): Redis {
  let wasUp = false
  const redis = new Redis(options.url, {
    connectionName: `chat-${options.role}`,
    enableOfflineQueue: options.queueWhileDown ?? false,
    maxRetriesPerRequest: 0,
    connectTimeout: 2000,
    autoResubscribe: true,
    retryStrategy: (times) => Math.min(100 * times, 1000),
    ...(options.queueWhileDown === true ? {} : { commandTimeout: COMMAND_TIMEOUT_MS })
  })
  if (options.queueWhileDown !== true) {
    const watchdog = setInterval(() => {
      if (redis.status !== 'ready') return
      redis.ping().catch((error: unknown) => {
        if (closing.has(redis) || redis.status !== 'ready') return
        options.logger.warn({ err: error, redis: options.role }, 'redis connection does not answer; reconnecting')
        redis.disconnect(true)
      })
    }, WATCHDOG_INTERVAL_MS).unref()
    redis.once('end', () => clearInterval(watchdog))
  }
  redis.on('ready', () => {
    if (!wasUp) options.logger.info({ redis: options.role }, 'redis connected')
    wasUp = true
    options.onState?.(true)
  })
  redis.on('close', () => {
    if (wasUp && !closing.has(redis)) options.logger.warn({ redis: options.role }, 'redis connection lost; reconnecting')
    wasUp = false
    options.onState?.(false)
  })
  // Reconnection is automatic; an 'error' only needs to be heard (unheard, it would throw).
  redis.on('error', (error: Error) => { options.logger.debug({ err: error, redis: options.role }, 'redis error') })
  return redis
}

/** Closes a connection however it stands (QUIT when it is up, else drop it). */
export async function closeRedis (redis: Redis): Promise<void> {
  closing.add(redis)
  try {
    if (redis.status === 'ready') await redis.quit()
    else redis.disconnect()
  } catch {
    redis.disconnect()
  }
}
