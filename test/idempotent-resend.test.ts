import t from 'tap'
import type { HistoryOk, MessageSendOk } from '../src/protocol/events.js'
import { startCluster } from './helpers/cluster.js'
import { onStore, STORES } from './helpers/stores.js'
import { clientMsgId, collectMessages, connect, eventually, request, signIn } from './helpers/client.js'

/** A resend after a lost ack returns the first id/seq and stores and broadcasts nothing new. */

for (const store of STORES) {
  t.test(`resending the same clientMsgId stores and broadcasts once (${store})`, async (t) => {
    const cluster = await startCluster(t, await onStore(t, store))
    const alice = await signIn(cluster.url, 'alice')
    const bob = await signIn(cluster.url, 'bob')
    const a1 = await connect(t, cluster.url, alice.token)
    const a2 = await connect(t, cluster.url, alice.token) // alice's second tab, other worker
    const b = await connect(t, cluster.url, bob.token)
    for (const socket of [a1, a2, b]) await request(socket, 'room:join', { room: 'dedup' })
    const atBob = collectMessages(b)

    const id = clientMsgId()
    const first = await request<MessageSendOk>(a1, 'message:send', { room: 'dedup', text: 'once', clientMsgId: id })
    const again = await request<MessageSendOk>(a1, 'message:send', { room: 'dedup', text: 'once (retry)', clientMsgId: id })
    const otherTab = await request<MessageSendOk>(a2, 'message:send', { room: 'dedup', text: 'once (other tab)', clientMsgId: id })
    t.ok(first.ok && again.ok && otherTab.ok)
    if (!first.ok || !again.ok || !otherTab.ok) return
    t.same([again.id, again.seq, again.ts], [first.id, first.seq, first.ts], 'a retry answers the first id, seq and ts')
    t.same([otherTab.id, otherTab.seq], [first.id, first.seq], 'same user on another worker: same message')

    // Concurrent duplicates (sent before any ack) collapse too.
    const burstId = clientMsgId()
    const burst = await Promise.all(Array.from({ length: 5 }, async () => await request<MessageSendOk>(a1, 'message:send', { room: 'dedup', text: 'burst', clientMsgId: burstId })))
    t.equal(new Set(burst.map((ack) => ack.ok ? ack.seq : -1)).size, 1, 'five concurrent sends, one seq')

    const bobsOwn = await request<MessageSendOk>(b, 'message:send', { room: 'dedup', text: 'mine', clientMsgId: id })
    t.ok(bobsOwn.ok && bobsOwn.seq !== first.seq, "another user's message with the same clientMsgId is a different message")

    await eventually(() => atBob.length >= 3)
    await new Promise((resolve) => setTimeout(resolve, 300))
    t.same(atBob.map((m) => m.text), ['once', 'burst', 'mine'], 'each message broadcast once')
    const history = await request<HistoryOk>(b, 'history', { room: 'dedup' })
    t.same(history.ok && history.messages.map((m) => m.seq), [1, 2, 3], 'stored once each, seq without gaps')
  })
}