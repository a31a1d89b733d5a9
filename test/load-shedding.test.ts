import t from 'tap'
import { startCluster } from './helpers/cluster.js'
import { clientMsgId, connect, connectError, eventually, metric, request, signIn, type ChatClient } from './helpers/client.js'
import type { Ack } from '../src/protocol/events.js'

/**
 * Degradation driven by the event loop's health, under real load: many readers pulling full
 * history pages (serialized inline on the worker's event loop) keep it busy. Past the threshold
 * the worker refuses new connections first, then typing, then sends (E_OVERLOADED with
 * retryAfterMs) instead of queueing them; when the load stops it recovers by itself.
 */

const ENV = {
  SHED_EVENT_LOOP_DELAY_MS: '15', // level 3 (sends refused) past 45 ms: reached on a fast machine too
  POOL_INLINE_MAX_PAGE_BYTES: '100000000', // pages serialized on the event loop: that is the load
  MESSAGE_RATE_PER_S: '100000',
  MESSAGE_BURST: '100000',
  EVENT_RATE_PER_S: '100000',
  EVENT_BURST: '100000',
  SOCKET_MAX_QUEUED_EVENTS: '10000',
  // The readers pull 20 pages of ~200 KB at once: over the default unread-backlog bound (2 MB)
  // they would be cut as slow consumers and the load would stop after its first burst.
  OUTBOUND_MAX_PACKETS: '1000000',
  OUTBOUND_MAX_BYTES: '1073741824',
  OVERLOAD_RETRY_AFTER_MS: '300',
  // One user holds every connection of the load.
  MAX_SOCKETS_PER_USER: '0'
}

t.test('shed connections, typing and sends under load, recover after', async (t) => {
  const cluster = await startCluster(t, { workers: 1, env: ENV })
  const { token } = await signIn(cluster.url, 'load')
  const writer = await connect(t, cluster.url, token)
  await request(writer, 'room:join', { room: 'busy' })
  for (let i = 0; i < 100; i++) await request(writer, 'message:send', { room: 'busy', text: `${i} ${'y'.repeat(1990)}`, clientMsgId: clientMsgId() })
  const readers: ChatClient[] = []
  for (let i = 0; i < 20; i++) {
    const socket = await connect(t, cluster.url, token)
    await request(socket, 'room:join', { room: 'busy' })
    readers.push(socket)
  }

  let pulling = true
  // A failed assertion must not leave the load running until tap's timeout.
  t.teardown(() => { pulling = false })
  const loops = readers.map(async (socket) => {
    for (let round = 0; pulling && round < 500; round++) {
      await Promise.all(Array.from({ length: 20 }, async () => await request(socket, 'history', { room: 'busy', limit: 100 }, 60_000).catch(() => undefined)))
    }
  })
  const shedding = (level: number) => (line: { msg?: string, shedLevel?: unknown }) => line.msg === 'load shedding level changed' && Number(line.shedLevel) >= level
  await cluster.waitForLog(shedding(1), 60_000)
  // As with the sends below, the level can fall back between its log line and a connection: try
  // again (spread over the shedding windows, bounded in rounds and time) until one is refused.
  let refused: Awaited<ReturnType<typeof connectError>> | undefined
  const connectDeadline = Date.now() + 60_000
  for (let round = 0; round < 300 && Date.now() < connectDeadline && refused === undefined; round++) {
    refused = await connectError(t, cluster.url, token).catch(() => undefined)
    if (refused === undefined) await new Promise((resolve) => setTimeout(resolve, 100))
  }
  t.equal(refused?.data?.code, 'E_OVERLOADED', 'a new connection is refused while shedding')
  t.ok((refused?.data?.retryAfterMs ?? 0) > 0, 'with a retry delay')

  await cluster.waitForLog(shedding(3), 60_000)
  // The level is re-measured every sample and falls a step per calm one, so a batch sent just as
  // the level drops is accepted: keep sending batches, spread over the shedding windows (sends are
  // pipelined, so a batch alone takes only milliseconds), until the refusal is seen; bounded in
  // rounds and time.
  const sends: Ack[] = []
  const deadline = Date.now() + 60_000
  for (let round = 0; round < 300 && Date.now() < deadline && !sends.some((ack) => !ack.ok); round++) {
    sends.push(...await Promise.all(Array.from({ length: 20 }, async () => await request(writer, 'message:send', { room: 'busy', text: 'during overload', clientMsgId: clientMsgId() }, 60_000))))
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  const typing = await request(writer, 'typing', { room: 'busy', typing: true }, 60_000)
  pulling = false
  await Promise.all(loops)

  t.ok(sends.every((ack) => ack.ok || ack.error.code === 'E_OVERLOADED'), 'sends are acked ok or E_OVERLOADED, never left unanswered')
  t.ok(sends.some((ack) => !ack.ok && ack.error.retryAfterMs !== undefined), 'some sends were refused E_OVERLOADED with a retry delay')
  t.ok(typing.ok || typing.error.code === 'E_OVERLOADED', 'typing answered')
  t.ok(await metric(cluster.opsUrl, 'chat_shed_total', { what: 'connection' }) > 0, 'connection sheds counted')
  t.ok(await metric(cluster.opsUrl, 'chat_shed_total', { what: 'send' }) > 0, 'send sheds counted')

  const level = (): number => Number(cluster.logs.filter((line) => line.msg === 'load shedding level changed').at(-1)?.shedLevel ?? 0)
  await eventually(() => level() === 0, 30_000)
  const back = await connect(t, cluster.url, token)
  await request(back, 'room:join', { room: 'busy' })
  t.match(await request(back, 'message:send', { room: 'busy', text: 'calm again', clientMsgId: clientMsgId() }), { ok: true }, 'service recovers by itself')
  t.same(await request(back, 'typing', { room: 'busy', typing: true }), { ok: true }, 'typing is back')
})

t.test('sends are refused while writes wait too long for their commit; every acked one is stored once', async (t) => {
  // With a 1 ms bound, a send that arrives while another socket's write is still on its way to
  // the store (IPC, transaction, fsync) is refused. Rounds of concurrent sends from 10 sockets,
  // until a refusal is seen (bounded).
  const cluster = await startCluster(t, { workers: 1, env: { ...ENV, SHED_EVENT_LOOP_DELAY_MS: '0', SHED_SEND_WAIT_MS: '1' } })
  const { token } = await signIn(cluster.url, 'hurry')
  const writers: ChatClient[] = []
  for (let i = 0; i < 10; i++) {
    const socket = await connect(t, cluster.url, token)
    await request(socket, 'room:join', { room: 'queue' })
    writers.push(socket)
  }
  const sent: Array<{ text: string, ack: Ack }> = []
  for (let round = 0; round < 10 && !sent.some(({ ack }) => !ack.ok); round++) {
    sent.push(...await Promise.all(writers.map(async (socket, i) => {
      const text = `round ${round} writer ${i}`
      return { text, ack: await request(socket, 'message:send', { room: 'queue', text, clientMsgId: clientMsgId() }, 60_000) }
    })))
  }
  const refused = sent.filter(({ ack }) => !ack.ok)
  t.ok(refused.length > 0, 'some sends were refused')
  t.ok(refused.every(({ ack }) => !ack.ok && ack.error.code === 'E_OVERLOADED' && (ack.error.retryAfterMs ?? 0) > 0), 'each with E_OVERLOADED and a retry delay')
  t.ok(await metric(cluster.opsUrl, 'chat_shed_total', { what: 'send', reason: 'wait' }) >= refused.length, 'counted with reason="wait"')

  const reader = await connect(t, cluster.url, token)
  const join = await request<{ missed: Array<{ text: string, seq: number }> }>(reader, 'room:join', { room: 'queue', since: 0 })
  const stored = join.ok ? join.missed : []
  const acked = sent.filter(({ ack }) => ack.ok)
  t.ok(acked.length <= 100, 'one page holds every stored message')
  t.same(stored.map((message) => message.text).sort(), acked.map(({ text }) => text).sort(), 'exactly the acked sends are stored, once each')
  t.same(stored.map((message) => message.seq), stored.map((_, i) => i + 1), 'seqs 1..n without a gap')
})
