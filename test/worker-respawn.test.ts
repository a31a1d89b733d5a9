import t from 'tap'
import type { MessageSendOk } from '../src/protocol/events.js'
import { startCluster } from './helpers/cluster.js'
import { clientMsgId, connect, eventually, metric, request, signIn } from './helpers/client.js'
import { recoveringReceiver, type RecoveringReceiver } from './helpers/recovering-receiver.js'

/**
 * kill -9 of a worker during a message flood: the primary respawns it, its clients reconnect and
 * recover every acked message exactly once and in order; the other worker's clients are not
 * disconnected.
 */

const FAST = { MESSAGE_RATE_PER_S: '1000', MESSAGE_BURST: '1000', EVENT_RATE_PER_S: '1000', EVENT_BURST: '1000' }

t.test('a killed worker is respawned and its clients recover every message', async (t) => {
  const cluster = await startCluster(t, { env: FAST })
  const receivers: RecoveringReceiver[] = []
  for (let i = 0; i < 6; i++) {
    const session = await signIn(cluster.url, `receiver${i}`)
    receivers.push(await recoveringReceiver(t, cluster.url, session.token, 'flood'))
  }
  const senders = []
  for (let i = 0; i < 2; i++) {
    const session = await signIn(cluster.url, `sender${i}`)
    const socket = await connect(t, cluster.url, session.token, { reconnection: true, reconnectionDelay: 100 })
    await request(socket, 'room:join', { room: 'flood' })
    socket.io.on('reconnect', () => { void request(socket, 'room:join', { room: 'flood' }) })
    senders.push(socket)
  }
  const [pidA, pidB] = cluster.workerPids()
  t.ok(pidA !== undefined && pidB !== undefined, 'two workers up')

  const acked = new Set<number>()
  let sending = true
  const loops = senders.map(async (socket, s) => {
    for (let i = 0; sending && i < 2000; i++) {
      try {
        const ack = await request<MessageSendOk>(socket, 'message:send', { room: 'flood', text: `s${s}-${i}`, clientMsgId: clientMsgId() }, 3000)
        if (ack.ok) acked.add(ack.seq)
      } catch {
        await new Promise((resolve) => setTimeout(resolve, 50)) // no ack (disconnected): retry later
      }
    }
  })
  await eventually(() => acked.size >= 100)
  process.kill(pidA as number, 'SIGKILL')
  await cluster.waitForLog((line) => line.msg === 'worker died; respawning')
  await cluster.waitForLog((line) => line.msg === 'worker ready' && line.workerPid !== pidA && line.workerPid !== pidB)
  await eventually(() => acked.size >= 400, 20_000)
  sending = false
  await Promise.all(loops)
  t.equal(await metric(cluster.opsUrl, 'chat_worker_respawns_total'), 1, 'the respawn is counted')
  t.equal((await fetch(`${cluster.url}/readyz`)).status, 200, 'ready again')

  const top = Math.max(...acked)
  await eventually(() => receivers.every((r) => r.lastSeq() >= top), 20_000)
  let reconnected = 0
  for (const [i, receiver] of receivers.entries()) {
    const seqs = receiver.received.map((m) => m.seq)
    t.same(seqs, Array.from({ length: seqs.length }, (_, k) => k + 1), `receiver ${i}: 1..${seqs.length} once each, in order`)
    if (receiver.reconnects > 0) reconnected++
    else t.same(receiver.disconnectReasons, [], `receiver ${i} on the surviving worker was never disconnected`)
  }
  t.ok(reconnected > 0 && reconnected < receivers.length, `only the killed worker's clients reconnected (${reconnected} of ${receivers.length})`)
})
