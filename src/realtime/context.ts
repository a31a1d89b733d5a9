import type { Redis } from 'ioredis'
import type { Logger } from 'pino'
import type { Config } from '../config.js'
import type { CrossVmBridge } from '../crossvm/bridge.js'
import type { WorkerMetrics } from '../ops/metrics.js'
import type { ChatPool } from '../pool/chat-pool.js'
import type { StoreReader } from '../store/store.js'
import type { StoreClient } from '../store/store-client.js'
import type { Tokens } from '../tokens.js'
import type { ConnectionQuotaClient } from './connection-quota.js'
import type { InFlight } from './dispatch.js'
import type { Limits } from './limits.js'
import type { LoadShedder } from './load-shedder.js'
import type { Presence } from './presence.js'
import type { RoomDirectory } from './room-directory.js'
import type { RoomFeeds } from './room-feeds.js'
import type { ChatServer } from './types.js'

/** What a worker hands to createRealtime(). */
export interface RealtimeDeps {
  config: Config
  logger: Logger
  metrics: WorkerMetrics
  tokens: Tokens
  reader: StoreReader
  writer: StoreClient
  pool: ChatPool
  /** Per-user and per-address connection quotas, counted by the primary. */
  quotas: ConnectionQuotaClient
  workerId: string
  /** Settings for a worker process in a cluster (false only for tests of a single process). */
  clustered?: boolean
  /** With several VMs: the Redis connection for message budgets shared by every VM. */
  limiterRedis?: Redis
}

/** Everything the event handlers of one worker share; built once by createRealtime(). */
export interface RealtimeContext extends Omit<RealtimeDeps, 'workerId' | 'clustered' | 'limiterRedis'> {
  io: ChatServer
  rooms: RoomDirectory
  feeds: RoomFeeds
  presence: Presence
  limits: Limits
  shedder: LoadShedder
  inFlight: InFlight
  /** A delay spread ±50 % so refused clients do not come back in step. */
  jitter: (baseMs: number) => number
  /** Jittered retry delay for E_OVERLOADED answers. */
  overloadRetryAfterMs: () => number
  /** The link to the other VMs (REDIS_URL), once connected; undefined on one VM. */
  crossVm: CrossVmBridge | undefined
  /** True once the worker drains: new sends are refused, the sockets are about to close. */
  readonly draining: boolean
}
