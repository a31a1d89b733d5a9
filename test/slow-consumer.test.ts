import t from 'tap'
import WebSocket from 'ws'
import { startCluster } from './helpers/cluster.js'
import { clientMsgId, collectMessages, connect, eventually, metric, request, signIn } from './helpers/client.js'

/**
 * A client that stops reading in a flooded room: its outbound backlog hits the bound, it is
 * disconnected and counted, the worker's memory stays bounded, and readers that keep up get
 * everything.
 */

const ENV = {
  WORKERS: '1',
  MESSAGE_RATE_PER_S: '100000',
  MESSAGE_BURST: '100000',
  EVENT_RATE_PER_S: '100000',
  EVENT_BURST: '100000',
  SOCKET_MAX_QUEUED_EVENTS: '1000',
  OUTBOUND_MAX_BYTES: String(256 * 1024),
  OUTBOUND_MAX_PACKETS: '500',
  // The writer's deliberate bursts of 50 long texts (checked on the pool thread, which starts on
  // the first one) must not be shed: this test is about the reader that stalls, not overload.
  SHED_SEND_WAIT_MS: '0',
  SHED_EVENT_LOOP_DELAY_MS: '0',
  DEBUG_GC_ROUTE: 'true'
}

/** The worker's heap after a forced GC, and its RSS. */
async function retained (opsUrl: string): Promise<{ heapUsed: number, rss: number }> {
  const { workers } = await (await fetch(`${opsUrl}/debug/memory?gc=1`)).json() as { workers: Array<{ heapUsed: number, rss: number }> }
  return workers[0] as { heapUsed: number, rss: number }
}

t.test('a never-reading client is cut at its backlog bound; the worker keeps none of its backlog', async (t) => {
  const cluster = await startCluster(t, { workers: 1, env: ENV })
  const stalled = await signIn(cluster.url, 'stalled')

  // A raw WebSocket that joins the room, then never reads again.
  const ws = new WebSocket(`ws://127.0.0.1:${cluster.port}/socket.io/?EIO=4&transport=websocket`)
  t.teardown(() => ws.terminate())
  const frames: string[] = []
  ws.on('message', (data) => frames.push(String(data)))
  await new Promise((resolve) => ws.once('open', resolve))
  await eventually(() => frames.length === 1)
  ws.send(`40${JSON.stringify({ token: stalled.token })}`)
  await eventually(() => frames.length === 2)
  ws.send('421["room:join",{"room":"firehose"}]')
  await eventually(() => frames.some((frame) => frame.startsWith('431')))
  const closed = new Promise<void>((resolve) => ws.once('close', () => resolve()))
  ;(ws as unknown as { _socket: { pause: () => void } })._socket.pause()

  const reader = await connect(t, cluster.url, (await signIn(cluster.url, 'reader')).token)
  const writer = await connect(t, cluster.url, (await signIn(cluster.url, 'writer')).token)
  await request(reader, 'room:join', { room: 'firehose' })
  await request(writer, 'room:join', { room: 'firehose' })
  const inbox = collectMessages(reader)
  const text = 'x'.repeat(1990)
  const refused: string[] = []
  const flood = async (count: number): Promise<void> => {
    for (let sent = 0; sent < count; sent += 50) {
      await Promise.all(Array.from({ length: 50 }, async () => {
        const ack = await request(writer, 'message:send', { room: 'firehose', text, clientMsgId: clientMsgId() }, 30_000)
        if (!ack.ok) refused.push(ack.error.code)
      }))
    }
  }
  // Warm up caches and heap with the stalled client already gone quiet, then measure.
  await flood(1000)
  t.same(refused, [], 'every send of the warm-up acked')
  await eventually(() => inbox.length === 1000, 30_000)
  const before = await retained(cluster.opsUrl)
  const total = 9000
  await flood(total - 1000)
  await eventually(() => inbox.length === total, 60_000)
  t.same(inbox.map((m) => m.seq), Array.from({ length: total }, (_, i) => i + 1), 'a reader that keeps up gets every message in order')

  // Measured while the stalled client's TCP connection still exists on its side: what the worker holds.
  const after = await retained(cluster.opsUrl)
  const broadcastMb = (total - 1000) * text.length / 2 ** 20
  const mb = (bytes: number): string => (bytes / 2 ** 20).toFixed(1)
  // Measured here with the bound lifted (OUTBOUND_MAX_* at their maximum): the heap keeps the
  // whole backlog, about as much as was broadcast. With the bound it returns to where it was.
  t.ok(after.heapUsed - before.heapUsed < 4 * 2 ** 20, `heap after GC grew ${mb(after.heapUsed - before.heapUsed)} MB (RSS ${mb(after.rss - before.rss)} MB) while ${broadcastMb.toFixed(1)} MB went to a client that never read (bound 4 MB)`)
  t.equal(await metric(cluster.opsUrl, 'chat_slow_consumer_disconnects_total'), 1, 'one slow-consumer disconnect, counted')
  t.ok(cluster.logs.some((line) => line.msg?.startsWith('slow consumer disconnected') === true && line.level === 40), 'logged at warn')
  ;(ws as unknown as { _socket: { resume: () => void } })._socket.resume()
  await closed
  t.pass('the stalled connection was closed by the server')
})
