import t from 'tap'
import { signIn } from './helpers/client.js'
import { flood, killVm, roamingReceiver, roamingSender, roomHistory, seqReport, startBackends, startVm } from './helpers/multi-vm.js'

/**
 * One VM killed -9 under a flood: its clients reconnect to the other VM, recover with `since` and
 * resend what was not acked with the same clientMsgId. Every acked message is stored exactly
 * once, seq stays gapless, and every receiver (the one that roamed included) ends with every
 * message once, in order.
 */

t.test('a VM killed -9 under a flood loses nothing acked', async (t) => {
  const backends = await startBackends(t)
  const a = await startVm(t, backends, { workers: 1 })
  const b = await startVm(t, backends, { workers: 1 })
  const urlsFromA = [a.url, b.url]
  const urlsFromB = [b.url, a.url]

  const sessions = await Promise.all(['s1', 's2', 's3', 's4', 'r1', 'r2'].map(async (name) => await signIn(b.url, name)))
  const [s1, s2, s3, s4, r1, r2] = sessions as [typeof sessions[number], typeof sessions[number], typeof sessions[number], typeof sessions[number], typeof sessions[number], typeof sessions[number]]
  const receiverOnA = await roamingReceiver(t, urlsFromA, r1.token, 'flood')
  const receiverOnB = await roamingReceiver(t, urlsFromB, r2.token, 'flood')
  const senders = [
    await roamingSender(t, urlsFromA, s1.token, 'flood'),
    await roamingSender(t, urlsFromA, s2.token, 'flood'),
    await roamingSender(t, urlsFromB, s3.token, 'flood'),
    await roamingSender(t, urlsFromB, s4.token, 'flood')
  ]

  const sending = flood(senders, 120, 10)
  await new Promise((resolve) => setTimeout(resolve, 1500))
  await killVm(a)
  t.pass('VM A killed -9 mid-flood')
  await sending

  const acked = senders.flatMap((sender) => sender.acked)
  t.equal(acked.length, 480, 'every message acked in the end')
  t.ok(senders[0]!.failovers + senders[1]!.failovers >= 2, 'the senders on VM A moved to VM B')

  const stored = await roomHistory(b.url, r2.token, 'flood')
  const report = seqReport(stored)
  t.ok(report.gapless && report.duplicates === 0, `seq gapless in the store (${stored.length} messages)`)
  const byClientMsgId = new Map<string, number>()
  for (const message of stored) byClientMsgId.set(message.clientMsgId, (byClientMsgId.get(message.clientMsgId) ?? 0) + 1)
  t.ok(acked.every((entry) => byClientMsgId.get(entry.clientMsgId) === 1), 'every acked message stored exactly once')
  t.equal(stored.length, 480, 'nothing stored twice, nothing extra')
  t.ok(acked.every((entry) => stored[entry.seq - 1]?.id === entry.id), 'each ack\'s id and seq are the stored ones')

  for (const [name, receiver] of [['the receiver that was on A', receiverOnA], ['the receiver on B', receiverOnB]] as const) {
    const deadline = Date.now() + 20_000
    while (receiver.received.length < stored.length && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100))
    const got = seqReport(receiver.received)
    t.equal(receiver.received.length, stored.length, `${name} got every message`)
    t.equal(got.duplicates, 0, `${name} got none twice`)
    t.ok(got.ordered, `${name} got them in seq order`)
  }
  t.ok(receiverOnA.reconnects >= 1, 'the receiver on A reconnected to B')
  for (const sender of senders) sender.close()
  receiverOnA.close()
  receiverOnB.close()
})
