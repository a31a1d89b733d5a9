import t from 'tap'
import type { HistoryOk, MessageSendOk } from '../src/protocol/events.js'
import { startCluster } from './helpers/cluster.js'
import { clientMsgId, collectMessages, connect, eventually, metric, request, signIn } from './helpers/client.js'
import { recoveringReceiver, type RecoveringReceiver } from './helpers/recovering-receiver.js'

/**
 * With one worker the worker commits its own writes (STORE_WRITER=auto) and writes committed
 * messages straight to its sockets: the same guarantees as the primary's writer. Every member
 * gets every message once, in seq order, over WebSocket and long-polling alike; a resend
 * answers the first id and seq; kill -9 of the worker under a flood loses no acked message; a
 * SIGTERM drain commits everything acked before the process exits.
 */

const FAST = { MESSAGE_RATE_PER_S: '1000', MESSAGE_BURST: '1000', EVENT_RATE_PER_S: '1000', EVENT_BURST: '1000' }

t.test('one worker: ordered delivery to websocket and polling clients, resends answered once', async (t) => {
  const cluster = await startCluster(t, { workers: 1, env: FAST })
  const alice = await signIn(cluster.url, 'alice')
  const bob = await signIn(cluster.url, 'bob')
  const ws = await connect(t, cluster.url, alice.token)
  const polling = await connect(t, cluster.url, bob.token, { transports: ['polling'] })
  const atWs = collectMessages(ws)
  const atPolling = collectMessages(polling)
  await request(ws, 'room:join', { room: 'solo' })
  await request(polling, 'room:join', { room: 'solo' })

  // Bursts without waiting for acks, so commits hold several messages of the room at once.
  const sends: Array<Promise<unknown>> = []
  for (let i = 0; i < 40; i++) {
    const sender = i % 2 === 0 ? ws : polling
    sends.push(request<MessageSendOk>(sender, 'message:send', { room: 'solo', text: `m${i}`, clientMsgId: `burst-${i}-0000` }))
  }
  const acks = await Promise.all(sends) as Array<{ ok: boolean, seq: number, id: string }>
  t.ok(acks.every((ack) => ack.ok), 'every send acked')
  await eventually(() => atWs.length === 40 && atPolling.length === 40)
  const expected = Array.from({ length: 40 }, (_, i) => i + 1)
  t.same(atWs.map((m) => m.seq), expected, 'websocket client: 1..40 once each, in order')
  t.same(atPolling.map((m) => m.seq), expected, 'polling client: 1..40 once each, in order')
  t.same(atPolling.map((m) => m.text), atWs.map((m) => m.text), 'the same messages')

  const first = acks[0] as { seq: number, id: string }
  const again = await request<MessageSendOk>(ws, 'message:send', { room: 'solo', text: 'm0', clientMsgId: 'burst-0-0000' })
  t.same(again.ok ? [again.id, again.seq] : again, [first.id, first.seq], 'a resend answers the first id and seq')
  const another = await request<MessageSendOk>(ws, 'message:send', { room: 'solo', text: 'last', clientMsgId: clientMsgId() })
  t.equal(another.ok && another.seq, 41, 'the resend took no seq')
  await eventually(() => atWs.length === 41)
  t.ok(await metric(cluster.opsUrl, 'chat_store_commit_seconds_count') > 0, 'commits are measured in the worker')
  // The websocket client's deliveries go straight to its TCP socket, the polling client's through
  // Engine.IO: both counted, the first as direct.
  const delivered = await metric(cluster.opsUrl, 'chat_messages_delivered_total')
  const direct = await metric(cluster.opsUrl, 'chat_messages_delivered_direct_total')
  t.ok(direct > 0 && direct < delivered, `deliveries straight to TCP: ${direct} of ${delivered}`)
})

t.test('one worker: kill -9 under a flood, then a drain: no acked message lost or doubled', async (t) => {
  const cluster = await startCluster(t, { workers: 1, env: FAST })
  const receivers: RecoveringReceiver[] = []
  for (let i = 0; i < 3; i++) receivers.push(await recoveringReceiver(t, cluster.url, (await signIn(cluster.url, `r${i}`)).token, 'flood'))
  const sender = await connect(t, cluster.url, (await signIn(cluster.url, 'sender')).token, { reconnection: true, reconnectionDelay: 100 })
  await request(sender, 'room:join', { room: 'flood' })
  sender.io.on('reconnect', () => { void request(sender, 'room:join', { room: 'flood' }) })

  const acked = new Map<number, string>()
  let sending = true
  const loop = (async () => {
    for (let i = 0; sending && i < 3000; i++) {
      const text = `m${i}`
      try {
        const ack = await request<MessageSendOk>(sender, 'message:send', { room: 'flood', text, clientMsgId: clientMsgId() }, 3000)
        if (ack.ok) acked.set(ack.seq, text)
      } catch {
        await new Promise((resolve) => setTimeout(resolve, 50))
      }
    }
  })()
  await eventually(() => acked.size >= 100)
  const [pid] = cluster.workerPids()
  process.kill(pid as number, 'SIGKILL')
  await cluster.waitForLog((line) => line.msg === 'worker ready' && line.workerPid !== pid, 20_000)
  const atKill = acked.size
  await eventually(() => acked.size >= atKill + 100, 20_000)
  sending = false
  await loop

  const top = Math.max(...acked.keys())
  await eventually(() => receivers.every((r) => r.lastSeq() >= top), 20_000)
  for (const [i, receiver] of receivers.entries()) {
    const seqs = receiver.received.map((m) => m.seq)
    t.same(seqs, Array.from({ length: seqs.length }, (_, k) => k + 1), `receiver ${i}: 1..${seqs.length} once each, in order`)
    t.ok(receiver.reconnects >= 1, `receiver ${i} reconnected after the kill`)
  }
  const received = new Map((receivers[0]?.received ?? []).map((m) => [m.seq, m.text]))
  t.ok([...acked].every(([seq, text]) => received.get(seq) === text), `every acked message arrived (${acked.size})`)

  // A drain on SIGTERM commits what was acked; a fresh start on the same directory has it all.
  const dataDir = cluster.dataDir
  t.equal(await cluster.stop('SIGTERM'), 0, 'drained and exited 0')
  const again = await startCluster(t, { workers: 1, env: FAST, dataDir })
  const reader = await connect(t, again.url, (await signIn(again.url, 'reader')).token)
  const join = await request<{ seq: number }>(reader, 'room:join', { room: 'flood' })
  t.ok(join.ok && join.seq >= top, 'the room kept its last seq')
  let before: number | undefined
  const stored: number[] = []
  for (let page = 0; page < 100; page++) {
    const history = await request<HistoryOk>(reader, 'history', { room: 'flood', limit: 100, ...(before === undefined ? {} : { before }) })
    if (!history.ok) break
    stored.unshift(...history.messages.map((m) => m.seq))
    if (!history.hasMore || history.messages.length === 0) break
    before = history.messages[0]?.seq
  }
  t.same(stored, Array.from({ length: stored.length }, (_, k) => k + 1), `history after the restart: 1..${stored.length}, gapless`)
  t.ok(stored.length >= top, 'every acked message is stored')
})
