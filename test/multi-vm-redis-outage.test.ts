import t from 'tap'
import { metric, signIn } from './helpers/client.js'
import { flood, roamingReceiver, roamingSender, roomHistory, seqReport, startBackends, startVm } from './helpers/multi-vm.js'

/**
 * Redis killed for 10 s under traffic, then started again empty: sends keep being stored and
 * acked, each VM keeps delivering its own messages, and once Redis is back every client ends
 * with every message (the other VM's caught up from PostgreSQL), none twice, none lost.
 */

t.test('Redis down for 10 s and back empty: nothing acked is lost', async (t) => {
  const backends = await startBackends(t)
  const a = await startVm(t, backends, { workers: 1 })
  const b = await startVm(t, backends, { workers: 2 })

  const [sa, sb, ra, rb] = await Promise.all(['sa', 'sb', 'ra', 'rb'].map(async (name) => await signIn(a.url, name))) as [Awaited<ReturnType<typeof signIn>>, Awaited<ReturnType<typeof signIn>>, Awaited<ReturnType<typeof signIn>>, Awaited<ReturnType<typeof signIn>>]
  const receiverA = await roamingReceiver(t, [a.url], ra.token, 'outage')
  const receiverB = await roamingReceiver(t, [b.url], rb.token, 'outage')
  const senderA = await roamingSender(t, [a.url], sa.token, 'outage')
  const senderB = await roamingSender(t, [b.url], sb.token, 'outage')

  // About 14 s of traffic from both VMs; Redis is gone from 2 s to 12 s.
  const sending = flood([senderA, senderB], 140, 100)
  await new Promise((resolve) => setTimeout(resolve, 2000))
  await backends.redis.kill()
  t.pass('redis killed')
  const ackedBefore = senderA.acked.length + senderB.acked.length
  const localBefore = receiverA.received.length
  await new Promise((resolve) => setTimeout(resolve, 10_000))
  t.ok(senderA.acked.length + senderB.acked.length > ackedBefore + 100, 'sends kept being acked while Redis was down')
  t.ok(receiverA.received.length > localBefore + 50, 'VM A kept delivering its own messages while Redis was down')
  await backends.redis.restart()
  t.pass('redis restarted empty')
  await sending

  const acked = [...senderA.acked, ...senderB.acked]
  t.equal(acked.length, 280, 'every send acked')
  const stored = await roomHistory(a.url, ra.token, 'outage')
  const report = seqReport(stored)
  t.ok(report.gapless && report.duplicates === 0 && stored.length === 280, 'the store holds each message once, seq gapless')
  const storedIds = new Set(stored.map((message) => message.id))
  t.ok(acked.every((entry) => storedIds.has(entry.id)), '0 acked messages lost')

  for (const [name, receiver] of [['receiver on A', receiverA], ['receiver on B', receiverB]] as const) {
    const deadline = Date.now() + 15_000
    while (receiver.received.length < 280 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100))
    const got = seqReport(receiver.received)
    t.equal(receiver.received.length, 280, `${name} ends with every message`)
    t.equal(got.duplicates, 0, `${name} got none twice`)
    t.ok(got.ordered, `${name} got them in seq order`)
  }
  t.equal(receiverA.reconnects + receiverB.reconnects, 0, 'no client was disconnected by the outage')
  t.ok(await metric(a.opsUrl, 'chat_crossvm_resubscribes_total') >= 1, 'VM A resubscribed')
  t.ok(await metric(b.opsUrl, 'chat_feed_gap_fills_total') > 0, 'VM B filled the gap from the store')
  for (const client of [senderA, senderB, receiverA, receiverB]) client.close()
})
