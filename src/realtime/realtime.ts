import { performance } from 'node:perf_hooks'
import type { Server as HttpServer } from 'node:http'
import type { Socket as TcpSocket } from 'node:net'
import { createAdapter } from '@socket.io/cluster-adapter'
import { Socket as EngineSocket } from 'engine.io'
import { Server } from 'socket.io'
import { clientAddressOf } from '../cluster/client-address.js'
import { CLIENT_EVENTS, type ClientEventName } from '../protocol/events.js'
import type { Message } from '../protocol/schemas.js'
import type { CrossVmBridge, CrossVmHandlers } from '../crossvm/bridge.js'
import type { CommittedMessage } from '../store/write-ops.js'
import type { RealtimeContext, RealtimeDeps } from './context.js'
import { installAdmission, workerConnectionLimit } from './admission.js'
import { answerUnknown, enqueue, InFlight, type Handler } from './dispatch.js'
import { openDirect } from './handlers/direct-messages.js'
import { deleteMessage, readHistory, sendMessage } from './handlers/messages.js'
import { changeRole, moderateMember } from './handlers/moderation.js'
import { createRoom, joinRoom, leaveAll, leaveRoom } from './handlers/rooms.js'
import { refreshAuth } from './handlers/session.js'
import { setTyping } from './handlers/typing.js'
import { evictLocal } from './evictions.js'
import { createLimits } from './limits.js'
import { LoadShedder } from './load-shedder.js'
import { installOutbound, terminate, type EngineSocketInternals, type OutboundStats } from './outbound.js'
import { chatParser } from './parser.js'
import { Presence } from './presence.js'
import { RoomBroadcast } from './room-broadcast.js'
import { RoomDirectory } from './room-directory.js'
import { RoomFeeds } from './room-feeds.js'
import { roomKey, type ChatServer, type ChatSocket } from './types.js'

/**
 * The Socket.IO side of one worker process: the typed server on the cluster adapter, admission
 * and authentication at the handshake, the event handlers, ordered room feeds and presence.
 */

export interface Realtime {
  io: ChatServer
  context: RealtimeContext
  /** The worker serves: start load measurement and ask the other workers for their presence counts. */
  announce: () => void
  /** New messages committed by the store (from any worker), in seq order: deliver them. */
  onCommitted: (messages: CommittedMessage[]) => void
  /** Tokens were revoked (on any worker): disconnect the sockets using them. */
  onRevoked: (keys: readonly string[]) => void
  /** What this worker does with what other VMs publish (REDIS_URL). */
  crossVmHandlers: CrossVmHandlers
  /** Starts relaying to other VMs through the bridge. */
  connectVms: (bridge: CrossVmBridge) => void
  /** Another worker exited: forget its sockets. */
  onWorkerExit: (workerId: string) => void
  /** Refuses new work, waits for events in flight and their commits, then closes every connection. */
  drain: (deadlineMs: number) => Promise<void>
  close: () => Promise<void>
}


export function createRealtime (httpServer: HttpServer, deps: RealtimeDeps): Realtime {
  const { config, logger, metrics } = deps
  const io: ChatServer = new Server(httpServer, {
    path: '/socket.io',
    serveClient: true,
    parser: chatParser,
    ...(deps.clustered === false ? {} : { adapter: createAdapter() }),
    transports: ['polling', 'websocket'],
    pingInterval: config.PING_INTERVAL_MS,
    pingTimeout: config.PING_TIMEOUT_MS,
    connectTimeout: config.HANDSHAKE_TIMEOUT_MS,
    maxHttpBufferSize: config.MAX_HTTP_BUFFER_SIZE,
    perMessageDeflate: false,
    httpCompression: true,
    cleanupEmptyChildNamespaces: true
  })

  let draining = false
  const jitter = (baseMs: number): number => Math.round(baseMs * (0.5 + Math.random()))
  const overloadRetryAfterMs = (): number => jitter(config.OVERLOAD_RETRY_AFTER_MS)

  const limits = createLimits({
    messageRatePerS: config.MESSAGE_RATE_PER_S,
    messageBurst: config.MESSAGE_BURST,
    typingRatePerS: config.TYPING_RATE_PER_S,
    eventRatePerS: config.EVENT_RATE_PER_S,
    eventBurst: config.EVENT_BURST,
    connectionRatePerIpPerS: config.CONNECTION_RATE_PER_IP_PER_S,
    connectionBurstPerIp: config.CONNECTION_BURST_PER_IP,
    clustered: deps.clustered !== false,
    ...(deps.limiterRedis === undefined ? {} : { redis: deps.limiterRedis })
  })
  const shedder = new LoadShedder({
    thresholdMs: config.SHED_EVENT_LOOP_DELAY_MS,
    onChange: (level, p99Ms) => logger[level > 0 ? 'warn' : 'info']({ shedLevel: level, p99Ms: Math.round(p99Ms) }, 'load shedding level changed')
  })

  const onOverflow = (raw: EngineSocketInternals, stats: OutboundStats): void => {
    metrics.slowConsumers.inc()
    logger.warn({ engineId: raw.id, ...stats }, 'slow consumer disconnected: unread backlog over its bound')
  }
  const broadcast = new RoomBroadcast({
    io,
    maxBytes: config.OUTBOUND_MAX_BYTES,
    onOverflow,
    onDelivered: (count, direct) => {
      metrics.messagesOut.inc(count)
      if (direct > 0) metrics.messagesOutDirect.inc(direct)
    }
  })
  const feeds = new RoomFeeds({
    reader: deps.reader,
    emit: (message: Message) => broadcast.offer(message),
    flush: () => broadcast.flush(),
    onGapFill: (count) => metrics.feedGapFills.inc(count),
    onMissing: (room, seq) => logger.error({ room, seq }, 'store lacks a seq below a committed one; skipping it'),
    onError: (error, room) => logger.warn({ err: error, room }, 'could not read a room\'s messages from the store; the next reconciliation retries'),
    // Messages from several VMs arrive out of order: give a gap a moment to close by itself.
    gapWaitMs: config.REDIS_URL === undefined ? 0 : 50
  })

  const presence = new Presence({
    workerId: deps.workerId,
    graceMs: config.PRESENCE_GRACE_MS,
    publish: (updates) => {
      io.serverSideEmit('presence:update', updates)
      context.crossVm?.presence(updates)
    },
    emitLocal: (event) => io.local.to(roomKey(event.room)).emit('presence', event)
  })

  const context: RealtimeContext = {
    io,
    config,
    logger,
    metrics,
    tokens: deps.tokens,
    reader: deps.reader,
    writer: deps.writer,
    pool: deps.pool,
    quotas: deps.quotas,
    rooms: new RoomDirectory(deps.reader),
    feeds,
    presence,
    limits,
    shedder,
    inFlight: new InFlight(),
    jitter,
    overloadRetryAfterMs,
    crossVm: undefined,
    get draining () { return draining }
  }

  const handlers: Record<ClientEventName, Handler> = {
    'room:join': joinRoom(context),
    'room:leave': leaveRoom(context),
    'message:send': sendMessage(context),
    history: readHistory(context),
    typing: setTyping(context),
    'auth:refresh': refreshAuth(context),
    'room:create': createRoom(context),
    'room:invite': moderateMember(context, 'invite'),
    'room:kick': moderateMember(context, 'kick'),
    'room:ban': moderateMember(context, 'ban'),
    'room:unban': moderateMember(context, 'unban'),
    'room:role': changeRole(context),
    'dm:open': openDirect(context),
    'message:delete': deleteMessage(context)
  }
  const known = new Set<string>(CLIENT_EVENTS)

  io.on('presence:update', (updates) => presence.apply(updates))
  io.on('room:evict', (eviction, done) => { done(evictLocal(context, eviction)) })
  io.on('presence:sync', () => {
    const snapshot = presence.snapshot()
    if (snapshot.length > 0) io.serverSideEmit('presence:update', snapshot)
  })

  const maxConnections = workerConnectionLimit(config)
  logger.debug({ maxConnections }, 'admission limit of this worker')

  installOutbound(EngineSocket, {
    maxPackets: config.OUTBOUND_MAX_PACKETS,
    maxBytes: config.OUTBOUND_MAX_BYTES,
    coalesce: config.WRITE_COALESCING
  }, onOverflow)

  io.engine.on('connection', (raw: EngineSocketInternals & { remoteAddress: string, request: { headers: unknown, rawHeaders: unknown, socket?: TcpSocket } | null }) => {
    // The client's real address, as the primary resolved it (TRUST_PROXY): handshake.address.
    raw.remoteAddress = clientAddressOf(raw.request?.socket)
    // The handshake request is not needed after the handshake. Engine.IO's upgrade response object
    // still holds it (a 'close' listener on the TCP socket), so empty its header copies too.
    if (raw.request !== null) {
      raw.request.headers = {}
      raw.request.rawHeaders = []
    }
    raw.request = null
  })

  installAdmission(io, context, maxConnections)

  io.on('connection', (socket: ChatSocket) => {
    metrics.connections.inc(metrics.workerLabel)
    metrics.connectionsAccepted.inc()
    socket.onAny((event: string, ...args: unknown[]) => {
      if (!known.has(event)) {
        answerUnknown(context, event, args)
        return
      }
      const ack = typeof args[args.length - 1] === 'function' ? args.pop() as (response: unknown) => void : undefined
      enqueue(context, socket, { event, handler: handlers[event as ClientEventName], payload: args[0], ack, receivedAt: performance.now() })
    })
    socket.once('disconnect', (reason) => {
      leaveAll(context, socket)
      metrics.connections.dec(metrics.workerLabel)
      metrics.disconnects.inc({ reason })
    })
  })

  // The position check: every live room's last seq against the store's (one query), so a lost
  // last message of a quiet room arrives anyway. One at a time.
  let reconciling: Promise<void> | undefined
  const reconcile = (): void => {
    reconciling ??= feeds.reconcile().then(
      () => {},
      (error: unknown) => { logger.warn({ err: error }, 'feed reconciliation failed; retried on the next tick') }
    ).finally(() => {
      reconciling = undefined
      broadcast.flush()
    })
  }
  const reconcileTimer = setInterval(reconcile, config.RECONCILE_INTERVAL_MS).unref()

  const crossVmHandlers: CrossVmHandlers = {
    messages: (messages) => {
      try {
        for (const [roomId, message] of messages) feeds.offer(roomId, message)
      } finally {
        broadcast.flush()
      }
    },
    catchUp: reconcile,
    room: (relay) => { io.local.to(roomKey(relay.room)).emit(relay.event, relay.payload as never) },
    presence: (updates) => presence.apply(updates),
    presenceSnapshot: () => presence.snapshot(),
    evict: (eviction) => { evictLocal(context, eviction) },
    workerGone: (worker) => presence.removeWorker(worker)
  }

  // Sweep often enough that a socket outlives its token by at most a quarter of the token's life.
  const expiryTimer = setInterval(() => {
    const now = Date.now()
    for (const socket of io.of('/').sockets.values()) {
      if (socket.data.expiresAtMs <= now) {
        metrics.tokenExpiries.inc()
        socket.disconnect(true)
      }
    }
  }, Math.min(15_000, Math.max(250, config.TOKEN_TTL_S * 250))).unref()

  const engineClients = (): EngineSocketInternals[] => Object.values((io.engine as unknown as { clients: Record<string, EngineSocketInternals> }).clients)

  let closed: Promise<void> | undefined
  return {
    io,
    context,
    announce () {
      shedder.start()
      io.serverSideEmit('presence:sync', deps.workerId)
    },
    onCommitted (messages) {
      try {
        for (const [roomId, message] of messages) feeds.offer(roomId, message)
      } finally {
        broadcast.flush()
      }
    },
    crossVmHandlers,
    connectVms (bridge) {
      context.crossVm = bridge
    },
    onRevoked (keys) {
      const revoked = new Set(keys)
      for (const socket of io.of('/').sockets.values()) {
        if (!revoked.has(socket.data.tokenKey)) continue
        metrics.tokenRevocations.inc()
        socket.disconnect(true)
      }
    },
    onWorkerExit (workerId) {
      presence.removeWorker(workerId)
    },
    async drain (deadlineMs) {
      draining = true
      const deadline = Date.now() + deadlineMs
      const timeLeft = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, Math.max(0, deadline - Date.now())).unref())
      await Promise.race([context.inFlight.idle(), timeLeft()])
      await Promise.race([deps.writer.drain(), timeLeft()])
      // Close at the transport so clients reconnect by themselves (a Socket.IO disconnect would not).
      for (const client of engineClients()) client.close()
      while (io.engine.clientsCount > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20))
      for (const client of engineClients()) terminate(client)
    },
    close () {
      closed ??= (async () => {
        clearInterval(reconcileTimer)
        clearInterval(expiryTimer)
        shedder.close()
        presence.close()
        await new Promise<void>((resolve) => { io.close(() => resolve()) })
      })()
      return closed
    }
  }
}
