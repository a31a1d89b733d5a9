import { join } from 'node:path'
import Database from 'better-sqlite3'
import t from 'tap'
import type { MessageSendOk } from '../src/protocol/events.js'
import { startCluster } from './helpers/cluster.js'
import { clientMsgId, connect, request, signIn } from './helpers/client.js'

/**
 * SIGTERM with sends in flight: readiness turns 503, in-flight sends finish and commit, clients
 * are disconnected at the transport (so they reconnect by themselves), the store closes cleanly
 * and the service exits 0. Every message that was acked ok is in the store.
 */

const FAST = { MESSAGE_RATE_PER_S: '1000', MESSAGE_BURST: '1000', EVENT_RATE_PER_S: '1000', EVENT_BURST: '1000', SHUTDOWN_TIMEOUT_MS: '8000' }

t.test('SIGTERM during a flood loses no acked message and exits 0', async (t) => {
  const cluster = await startCluster(t, { env: FAST })
  const senders = await Promise.all(Array.from({ length: 6 }, async (_, i) => {
    const socket = await connect(t, cluster.url, (await signIn(cluster.url, `sender${i}`)).token)
    await request(socket, 'room:join', { room: 'drain' })
    return socket
  }))
  const reasons: string[] = []
  for (const socket of senders) socket.on('disconnect', (reason) => reasons.push(reason))

  const acked: Array<{ seq: number, clientMsgId: string }> = []
  const refused = new Map<string, number>()
  let stopping = false
  const loops = senders.map(async (socket, s) => {
    // Several sends in flight per socket at any time.
    const inFlight = new Set<Promise<void>>()
    for (let i = 0; i < 5000 && socket.connected; i++) {
      const id = clientMsgId()
      const send = request<MessageSendOk>(socket, 'message:send', { room: 'drain', text: `s${s}-${i}`, clientMsgId: id }, 4000).then((ack) => {
        if (ack.ok) acked.push({ seq: ack.seq, clientMsgId: id })
        else refused.set(ack.error.code, (refused.get(ack.error.code) ?? 0) + 1)
      }, () => {})
      inFlight.add(send)
      void send.finally(() => inFlight.delete(send))
      if (inFlight.size >= 4) await Promise.race(inFlight)
      if (stopping && i % 10 === 0) await new Promise((resolve) => setImmediate(resolve))
    }
    await Promise.all(inFlight)
  })

  while (acked.length < 300) await new Promise((resolve) => setTimeout(resolve, 10))
  stopping = true
  const readyBefore = (await fetch(`${cluster.url}/readyz`)).status
  const exit = cluster.stop('SIGTERM')
  const code = await exit
  await Promise.all(loops)

  t.equal(readyBefore, 200)
  t.equal(code, 0, 'exit code 0')
  t.ok(cluster.logs.some((line) => line.msg === 'shutting down: draining workers'), 'the primary drained its workers')
  t.equal(cluster.logs.filter((line) => line.msg === 'drained; exiting').length, 2, 'both workers drained')
  t.ok(reasons.length === senders.length && reasons.every((reason) => reason === 'transport close'), `clients saw a transport close (they reconnect by themselves): ${[...new Set(reasons)].join(',')}`)
  t.ok([...refused.keys()].every((code) => code === 'E_OVERLOADED'), `sends during the drain were refused E_OVERLOADED only: ${JSON.stringify([...refused])}`)

  const db = new Database(join(cluster.dataDir, 'chat.sqlite'), { readonly: true })
  t.teardown(() => db.close())
  const find = db.prepare<[number, string], { n: number }>('SELECT COUNT(*) AS n FROM messages WHERE seq = ? AND client_msg_id = ?')
  const missing = acked.filter((a) => (find.get(a.seq, a.clientMsgId)?.n ?? 0) !== 1)
  t.same(missing, [], `all ${acked.length} acked messages are in the store`)
  const { n, max } = db.prepare('SELECT COUNT(*) AS n, MAX(seq) AS max FROM messages').get() as { n: number, max: number }
  t.equal(n, max, 'seq has no gaps')
  t.equal(db.pragma('integrity_check', { simple: true }), 'ok', 'the store is intact')
})
