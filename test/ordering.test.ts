import t from 'tap'
import type { MessageSendOk } from '../src/protocol/events.js'
import { startCluster } from './helpers/cluster.js'
import { onStore, STORES } from './helpers/stores.js'
import { clientMsgId, collectMessages, connect, eventually, metric, request, signIn } from './helpers/client.js'

/**
 * Senders on both workers write to one room at once; every receiver, on either worker, gets
 * every message exactly once in seq order (gaps are filled from the store).
 */

const PER_SENDER = 150
const LIMITS = { MESSAGE_RATE_PER_S: '10000', MESSAGE_BURST: '10000', EVENT_RATE_PER_S: '10000', EVENT_BURST: '10000', SOCKET_MAX_QUEUED_EVENTS: '1000' }

for (const store of STORES) {
  t.test(`concurrent senders on different workers: each receiver sees seq order, no gaps, no doubles (${store})`, async (t) => {
    const cluster = await startCluster(t, await onStore(t, store, { env: LIMITS }))
    const senders = []
    const receivers = []
    for (let i = 0; i < 4; i++) {
      const session = await signIn(cluster.url, `sender${i}`)
      senders.push(await connect(t, cluster.url, session.token))
    }
    for (let i = 0; i < 4; i++) {
      const session = await signIn(cluster.url, `receiver${i}`)
      receivers.push(await connect(t, cluster.url, session.token))
    }
    t.equal(await metric(cluster.opsUrl, 'chat_connections', { worker: '1' }), 4, 'half the sockets on worker 1')
    const inboxes = receivers.map(collectMessages)
    for (const socket of [...senders, ...receivers]) await request(socket, 'room:join', { room: 'race' })

    const acks = await Promise.all(senders.map(async (socket, s) => await Promise.all(
      Array.from({ length: PER_SENDER }, async (_, i) => await request<MessageSendOk>(socket, 'message:send', { room: 'race', text: `s${s}-${i}`, clientMsgId: clientMsgId() }, 30_000))
    )))
    const seqs = acks.flat().map((ack) => ack.ok ? ack.seq : -1)
    const total = senders.length * PER_SENDER
    t.same([...seqs].sort((a, b) => a - b), Array.from({ length: total }, (_, i) => i + 1), 'acked seqs are 1..N, no gaps, no repeats')
    for (const [s, list] of acks.entries()) {
      const own = list.map((ack) => ack.ok ? ack.seq : -1)
      t.same(own, [...own].sort((a, b) => a - b), `sender ${s}'s messages are stored in the order it sent them`)
    }

    await eventually(() => inboxes.every((inbox) => inbox.length >= total), 30_000)
    await new Promise((resolve) => setTimeout(resolve, 300))
    for (const [r, inbox] of inboxes.entries()) {
      t.same(inbox.map((m) => m.seq), Array.from({ length: total }, (_, i) => i + 1), `receiver ${r}: every seq once, in order`)
    }
  })
}