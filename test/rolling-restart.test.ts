import t from 'tap'
import type { MessageSendOk } from '../src/protocol/events.js'
import { startCluster } from './helpers/cluster.js'
import { clientMsgId, connect, eventually, request, signIn } from './helpers/client.js'
import { recoveringReceiver, type RecoveringReceiver } from './helpers/recovering-receiver.js'

/**
 * SIGUSR2 replaces the workers one at a time with fresh processes: the service keeps answering
 * throughout, only the clients of the worker being replaced reconnect, and no acked message is
 * lost or delivered twice.
 */

const FAST = { MESSAGE_RATE_PER_S: '1000', MESSAGE_BURST: '1000', EVENT_RATE_PER_S: '1000', EVENT_BURST: '1000' }

for (const workers of [2, 1]) t.test(`rolling restart under traffic, ${workers} worker(s)`, async (t) => {
  // With one worker, that worker commits its own writes (STORE_WRITER=auto): old and new worker
  // both write while they overlap, and the new one catches up on the old one's commits.
  const cluster = await startCluster(t, { workers, env: FAST })
  const before = cluster.workerPids()
  const receivers: RecoveringReceiver[] = []
  for (let i = 0; i < 6; i++) receivers.push(await recoveringReceiver(t, cluster.url, (await signIn(cluster.url, `r${i}`)).token, 'deploy'))
  const sender = await connect(t, cluster.url, (await signIn(cluster.url, 'sender')).token, { reconnection: true, reconnectionDelay: 100 })
  await request(sender, 'room:join', { room: 'deploy' })
  sender.io.on('reconnect', () => { void request(sender, 'room:join', { room: 'deploy' }) })

  const acked = new Set<number>()
  let running = true
  const sending = (async () => {
    for (let i = 0; running && i < 5000; i++) {
      try {
        const ack = await request<MessageSendOk>(sender, 'message:send', { room: 'deploy', text: `m${i}`, clientMsgId: clientMsgId() }, 3000)
        if (ack.ok) acked.add(ack.seq)
        else await new Promise((resolve) => setTimeout(resolve, ack.error.retryAfterMs ?? 50))
      } catch {
        await new Promise((resolve) => setTimeout(resolve, 50))
      }
    }
  })()
  // Probe availability the whole time: health, readiness and fresh connections.
  const probes = { health: 0, healthFailed: 0, connects: 0, connectsFailed: 0 }
  const probing = (async () => {
    const { token } = await signIn(cluster.url, 'prober')
    while (running) {
      const health = await fetch(`${cluster.url}/healthz`).then((r) => r.status, () => 0)
      if (health === 200) probes.health++
      else probes.healthFailed++
      try {
        const socket = await connect(t, cluster.url, token)
        socket.close()
        probes.connects++
      } catch {
        probes.connectsFailed++
      }
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
  })()

  await eventually(() => acked.size >= 50)
  cluster.process.kill('SIGUSR2')
  await cluster.waitForLog((line) => line.msg === 'rolling restart done', 60_000)
  await eventually(() => acked.size >= Math.max(...acked) - 1 && acked.size > 200, 20_000)
  running = false
  await Promise.all([sending, probing])

  const after = cluster.workerPids()
  t.equal(after.length, workers, `${workers} worker(s) serve after the restart`)
  t.ok(after.every((pid) => !before.includes(pid)), 'every worker was replaced by a fresh process')
  t.equal(probes.healthFailed, 0, `health answered throughout (${probes.health} probes)`)
  t.equal(probes.connectsFailed, 0, `new connections were accepted throughout (${probes.connects} probes)`)
  t.equal((await fetch(`${cluster.url}/readyz`)).status, 200)

  const top = Math.max(...acked)
  await eventually(() => receivers.every((r) => r.lastSeq() >= top), 20_000)
  for (const [i, receiver] of receivers.entries()) {
    const seqs = receiver.received.map((m) => m.seq)
    t.same(seqs, Array.from({ length: seqs.length }, (_, k) => k + 1), `receiver ${i}: every message once, in order (${seqs.length})`)
    t.ok(receiver.reconnects <= workers, `receiver ${i} reconnected ${receiver.reconnects} time(s): only when its own worker was replaced`)
  }
})
