import { availableParallelism } from 'node:os'
import { isIP } from 'node:net'
import { resolve } from 'node:path'
import { z } from 'zod'
import { projectPath } from './paths.js'

/**
 * Every setting comes from the environment, is parsed once here with zod and frozen. A bad value
 * stops the start with a message naming the variable, before any worker is forked. README's
 * configuration table lists the same names and defaults.
 */

export const DEFAULT_JWT_SECRET = 'dev-only-insecure-secret-change-me-0123456789'
const MIN_PRODUCTION_SECRET_LENGTH = 32

const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max)
const bool = z.enum(['true', 'false', '1', '0', 'yes', 'no', 'on', 'off']).transform((v) => ['true', '1', 'yes', 'on'].includes(v))

const schema = z.object({
  NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
  PORT: int(0, 65535).default(3000),
  HOST: z.string().min(1).default('127.0.0.1'),
  // One core is left to the primary and the store thread (the fsync'ing writer); on 2 cores that
  // is one worker, which also commits its own writes (STORE_WRITER=auto): no IPC per message.
  WORKERS: int(1, 256).default(Math.max(1, availableParallelism() - 1)),
  DATA_DIR: z.string().min(1).default('./data'),
  JWT_SECRET: z.string().min(1).default(DEFAULT_JWT_SECRET),
  TOKEN_TTL_S: int(1, 30 * 24 * 3600).default(24 * 3600),
  SESSIONS_ROUTE: bool.default(true),
  /** Guest sign-in (`POST /api/sessions` without a password); default: on outside production. */
  GUESTS: bool.optional(),
  /** Verification keys besides JWT_SECRET, by `kid`: JSON `{"kid":"secret or PEM public key"}` or `kid:secret,kid:secret`. */
  JWT_KEYS: z.string().optional().transform((value, context) => parseJwtKeys(value, context)),
  /** The `kid` (a JWT_KEYS secret) that signs new tokens; JWT_SECRET without a `kid` when unset. */
  JWT_KID: z.string().regex(/^[\w.-]{1,64}$/).optional(),
  JWT_ISSUER: z.string().min(1).optional(),
  JWT_AUDIENCE: z.string().min(1).optional(),
  SIGNIN_FAILURES_PER_ACCOUNT: int(1, 1_000_000).default(10),
  SIGNIN_FAILURES_PER_IP: int(1, 1_000_000).default(100),
  SIGNIN_FAILURE_WINDOW_S: int(1, 24 * 3600).default(900),
  ROOMS_CREATED_PER_HOUR: int(0, 1_000_000).default(20),
  ROOMS_CREATED_MAX: int(0, 10_000_000).default(200),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),

  POOL_THREADS: int(1, 64).default(1),
  POOL_MAX_QUEUE: int(16, 1_000_000).default(4096),
  POOL_INLINE_MAX_CODE_POINTS: int(0, 1_000_000).default(256),
  POOL_INLINE_MAX_PAGE_BYTES: int(0, 100_000_000).default(65_536),
  MODERATION_POLICY: z.enum(['reject', 'mask', 'off']).default('reject'),
  MODERATION_TERMS_FILE: z.string().min(1).default(projectPath('workers', 'moderation-terms.txt')),

  STORE_SYNC: z.enum(['full', 'normal']).default('full'),
  STORE_MAX_BATCH: int(1, 10_000).default(512),
  STORE_WRITER: z.enum(['auto', 'primary', 'worker']).default('auto'),
  // Several VMs: STORE=postgres with DATABASE_URL holds every message; REDIS_URL carries
  // committed messages, presence, typing, rate limits and evictions between VMs.
  STORE: z.enum(['sqlite', 'postgres']).default('sqlite'),
  DATABASE_URL: z.string().regex(/^postgres(ql)?:\/\//, 'a postgres:// or postgresql:// URL').optional(),
  PG_POOL_SIZE: int(1, 1000).default(10),
  PG_CONNECT_TIMEOUT_MS: int(100, 600_000).default(5000),
  REDIS_URL: z.string().regex(/^rediss?:\/\//, 'a redis:// or rediss:// URL').optional(),
  /** How often each worker checks its rooms' last seq against the store (a lost last message in a quiet room). */
  RECONCILE_INTERVAL_MS: int(100, 600_000).default(2000),
  /** How often each worker checks that its Redis subscription still hears its own pings. */
  REDIS_PROBE_INTERVAL_MS: int(100, 600_000).default(2000),
  PRESENCE_GRACE_MS: int(0, 600_000).default(3000),
  SHUTDOWN_TIMEOUT_MS: int(1000, 600_000).default(10_000),
  RESPAWN_BACKOFF_MAX_MS: int(10, 600_000).default(10_000),
  DEBUG_GC_ROUTE: bool.default(false),
  OPS_PORT: int(0, 65535).default(9100),
  OPS_HOST: z.string().min(1).default('127.0.0.1'),
  /** Peers whose X-Forwarded-For is believed: `true`, `false`, or addresses and CIDRs, comma-separated. */
  TRUST_PROXY: z.string().default('false').transform((value, context) => parseTrustProxy(value, context)),
  REQUEST_TIMEOUT_MS: int(1000, 600_000).default(30_000),
  MAX_HEADS_PER_IP: int(0, 1_000_000).default(1000),

  MAX_HTTP_BUFFER_SIZE: int(16 * 1024, 64 * 1024).default(32 * 1024),
  PING_INTERVAL_MS: int(1000, 600_000).default(15_000),
  PING_TIMEOUT_MS: int(1000, 600_000).default(10_000),

  MAX_CONNECTIONS: int(1, 10_000_000).default(60_000),
  MAX_CONNECTIONS_PER_WORKER: int(0, 10_000_000).default(0),
  CONNECTION_RATE_PER_IP_PER_S: z.coerce.number().min(0).max(1_000_000).default(20),
  CONNECTION_BURST_PER_IP: int(1, 10_000_000).default(200),
  MAX_CONNECTIONS_PER_IP: int(0, 10_000_000).default(5000),
  MAX_SOCKETS_PER_USER: int(0, 1_000_000).default(20),
  HANDSHAKE_TIMEOUT_MS: int(500, 120_000).default(10_000),
  OVERLOAD_RETRY_AFTER_MS: int(100, 600_000).default(2000),
  SHED_EVENT_LOOP_DELAY_MS: int(0, 60_000).default(200),
  SHED_SEND_WAIT_MS: int(0, 600_000).default(500),

  MESSAGE_RATE_PER_S: z.coerce.number().min(0.01).max(100_000).default(2),
  MESSAGE_BURST: int(1, 1_000_000).default(10),
  TYPING_RATE_PER_S: z.coerce.number().min(0.01).max(100_000).default(2),
  EVENT_RATE_PER_S: z.coerce.number().min(0.01).max(100_000).default(30),
  EVENT_BURST: int(1, 1_000_000).default(100),
  SOCKET_MAX_QUEUED_EVENTS: int(1, 100_000).default(32),
  ROOMS_PER_SOCKET: int(1, 100_000).default(100),
  STORE_MAX_BACKLOG: int(1, 10_000_000).default(20_000),
  REST_SESSIONS_PER_MIN: int(1, 1_000_000).default(30),
  REST_READS_PER_MIN: int(1, 1_000_000).default(300),

  WRITE_COALESCING: bool.default(true),
  OUTBOUND_MAX_PACKETS: int(16, 10_000_000).default(2000),
  OUTBOUND_MAX_BYTES: int(16 * 1024, 1024 * 1024 * 1024).default(2 * 1024 * 1024)
})

/** TRUST_PROXY parsed: trust every peer, none, or those in the list (addresses and CIDRs). */
export type TrustProxy = boolean | readonly string[]

function parseTrustProxy (value: string, context: z.RefinementCtx): TrustProxy {
  const lower = value.trim().toLowerCase()
  if (['true', '1', 'yes', 'on'].includes(lower)) return true
  if (['false', '0', 'no', 'off', ''].includes(lower)) return false
  const entries = value.split(',').map((entry) => entry.trim()).filter((entry) => entry !== '')
  for (const entry of entries) {
    const [address = '', prefix, extra] = entry.split('/')
    const family = isIP(address)
    const bits = prefix === undefined ? undefined : Number(prefix)
    if (family === 0 || extra !== undefined || (bits !== undefined && (!Number.isInteger(bits) || bits < 0 || bits > (family === 4 ? 32 : 128)))) {
      context.addIssue({ code: 'custom', message: `not true, false or a list of addresses and CIDRs: ${JSON.stringify(entry)}` })
      return false
    }
  }
  return Object.freeze(entries)
}

/** JWT_KEYS parsed: verification keys by `kid` (HS256 secrets, or PEM public keys). */
function parseJwtKeys (value: string | undefined, context: z.RefinementCtx): Readonly<Record<string, string>> {
  const keys: Record<string, string> = {}
  if (value === undefined || value.trim() === '') return Object.freeze(keys)
  let entries: Array<[string, unknown]>
  if (value.trim().startsWith('{')) {
    try {
      entries = Object.entries(JSON.parse(value) as Record<string, unknown>)
    } catch {
      context.addIssue({ code: 'custom', message: 'not valid JSON' })
      return Object.freeze(keys)
    }
  } else {
    entries = value.split(',').map((pair) => {
      const colon = pair.indexOf(':')
      return colon === -1 ? [pair.trim(), undefined] : [pair.slice(0, colon).trim(), pair.slice(colon + 1).trim()]
    })
  }
  for (const [kid, key] of entries) {
    if (!/^[\w.-]{1,64}$/.test(kid) || typeof key !== 'string' || key.length === 0) {
      context.addIssue({ code: 'custom', message: `every entry needs a kid ([A-Za-z0-9_.-], 1-64) and a non-empty key (entry ${JSON.stringify(kid)})` })
      continue
    }
    keys[kid] = key
  }
  return Object.freeze(keys)
}

type Parsed = z.infer<typeof schema>

export type Config = Readonly<Omit<Parsed, 'GUESTS'> & { GUESTS: boolean, DATA_DIR_ABSOLUTE: string }>

/** A configuration problem, reported before anything starts. */
const SECRET_SETTINGS = new Set(['JWT_SECRET', 'JWT_KEYS', 'DATABASE_URL', 'REDIS_URL'])

export class ConfigError extends Error {
  override name = 'ConfigError'
}

/**
 * Parses an environment into the frozen configuration; throws ConfigError naming every bad
 * variable. Empty strings count as unset so `FOO= npm start` falls back to the default.
 */
export function loadConfig (env: NodeJS.ProcessEnv = process.env): Config {
  const input: Record<string, string> = {}
  for (const key of Object.keys(schema.shape)) {
    const value = env[key]
    if (value !== undefined && value !== '') input[key] = value
  }
  const parsed = schema.safeParse(input)
  if (!parsed.success) {
    // Secrets and URLs with passwords are never echoed.
    const shown = (key: string): string => SECRET_SETTINGS.has(key) ? '(hidden)' : JSON.stringify(input[key])
    const lines = parsed.error.issues.map((issue) => `  ${issue.path.join('.')}: ${issue.message} (got ${shown(String(issue.path[0]))})`)
    throw new ConfigError(`invalid configuration:\n${lines.join('\n')}`)
  }
  const config = parsed.data
  if (config.NODE_ENV === 'production' &&
    (config.JWT_SECRET === DEFAULT_JWT_SECRET || config.JWT_SECRET.length < MIN_PRODUCTION_SECRET_LENGTH)) {
    throw new ConfigError(`invalid configuration:\n  JWT_SECRET: NODE_ENV=production needs a secret of at least ${MIN_PRODUCTION_SECRET_LENGTH} characters that is not the default`)
  }
  const shortKids = Object.entries(config.JWT_KEYS).filter(([, key]) => !key.startsWith('-----BEGIN') && key.length < MIN_PRODUCTION_SECRET_LENGTH).map(([kid]) => kid)
  if (config.NODE_ENV === 'production' && shortKids.length > 0) {
    throw new ConfigError(`invalid configuration:\n  JWT_KEYS: NODE_ENV=production needs secrets of at least ${MIN_PRODUCTION_SECRET_LENGTH} characters (short: ${shortKids.join(', ')})`)
  }
  if (config.NODE_ENV === 'production' && config.DEBUG_GC_ROUTE) {
    throw new ConfigError('invalid configuration:\n  DEBUG_GC_ROUTE: the GC debug route is refused with NODE_ENV=production')
  }
  if (config.JWT_KID !== undefined && (config.JWT_KEYS[config.JWT_KID] === undefined || config.JWT_KEYS[config.JWT_KID]?.startsWith('-----BEGIN') === true)) {
    throw new ConfigError(`invalid configuration:\n  JWT_KID: ${JSON.stringify(config.JWT_KID)} is not a secret of JWT_KEYS (a public key cannot sign)`)
  }
  if (config.STORE === 'postgres' && config.DATABASE_URL === undefined) {
    throw new ConfigError('invalid configuration:\n  DATABASE_URL: STORE=postgres needs DATABASE_URL (postgres://user:password@host:5432/db)')
  }
  if (config.REDIS_URL !== undefined && config.STORE !== 'postgres') {
    // Each VM's own SQLite file numbers rooms by itself: messages between VMs would go to the wrong rooms.
    throw new ConfigError('invalid configuration:\n  REDIS_URL: several VMs share PostgreSQL; set STORE=postgres and DATABASE_URL too')
  }
  if (config.STORE_WRITER === 'worker' && config.WORKERS > 1) {
    throw new ConfigError('invalid configuration:\n  STORE_WRITER: worker needs WORKERS=1 (with several workers the primary is the one writer)')
  }
  return Object.freeze({
    ...config,
    GUESTS: config.GUESTS ?? config.NODE_ENV !== 'production',
    DATA_DIR_ABSOLUTE: resolve(config.DATA_DIR)
  })
}

/** True when the (only) worker commits its own writes instead of sending them to the primary. */
export function workerOwnsStore (config: Pick<Config, 'STORE_WRITER' | 'WORKERS'>): boolean {
  return config.STORE_WRITER === 'worker' || (config.STORE_WRITER === 'auto' && config.WORKERS === 1)
}
