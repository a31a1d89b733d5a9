import t from 'tap'
import type { MessageSendOk } from '../src/protocol/events.js'
import { startCluster } from './helpers/cluster.js'
import { clientMsgId, connect, eventually, metric, request, signIn } from './helpers/client.js'
import { recoveringReceiver, type RecoveringReceiver } from './helpers/recovering-receiver.js'

/**
 * A reconnect storm: every client comes back at once after a full restart. Admission control
 * (a per-address connection rate here) refuses the excess with E_OVERLOADED and a retry delay;
 * clients that back off with jitter and honour retryAfterMs all get back in and recover every
 * message sent before, during and after the restart.
 */

const CLIENTS = 300
const ENV = {
  CONNECTION_RATE_PER_IP_PER_S: '25',
  CONNECTION_BURST_PER_IP: '40',
  OVERLOAD_RETRY_AFTER_MS: '500',
  MESSAGE_RATE_PER_S: '1000',
  MESSAGE_BURST: '1000',
  // 10 users hold 30 connections each here; the per-user cap is not what this test is about.
  MAX_SOCKETS_PER_USER: '0'
}

t.test(`${CLIENTS} clients reconnect at once after a restart and miss nothing`, async (t) => {
  const first = await startCluster(t, { env: { ...ENV, CONNECTION_RATE_PER_IP_PER_S: '0' } })
  const tokens = await Promise.all(Array.from({ length: 10 }, async (_, i) => (await signIn(first.url, `storm${i}`)).token))
  const receivers: RecoveringReceiver[] = await Promise.all(Array.from({ length: CLIENTS }, async (_, i) =>
    await recoveringReceiver(t, first.url, tokens[i % tokens.length] as string, `storm-${i % 10}`, { reconnectionDelay: 500, reconnectionDelayMax: 5000, randomizationFactor: 0.5 })))

  const sendTo = async (url: string, label: string): Promise<void> => {
    const sender = await connect(t, url, (await signIn(url, `sender-${label}`)).token)
    for (let room = 0; room < 10; room++) {
      await request(sender, 'room:join', { room: `storm-${room}` })
      for (let i = 0; i < 5; i++) {
        const ack = await request<MessageSendOk>(sender, 'message:send', { room: `storm-${room}`, text: `${label} ${i}`, clientMsgId: clientMsgId() })
        if (!ack.ok) throw new Error(`send failed: ${ack.error.code}`)
      }
    }
    sender.close()
  }
  await sendTo(first.url, 'before')
  t.equal(await first.stop('SIGTERM'), 0)

  const second = await startCluster(t, { env: ENV, dataDir: first.dataDir, port: first.port })
  await sendTo(second.url, 'during') // while clients are still backing off
  await eventually(() => receivers.every((r) => r.socket.connected), 60_000)
  await sendTo(second.url, 'after')

  await eventually(() => receivers.every((r) => r.lastSeq() === 15), 30_000)
  const refused = await metric(second.opsUrl, 'chat_connections_rejected_total')
  t.ok(refused > 0, `admission control refused part of the storm (${refused} refusals) and every client still got back in`)
  for (const [i, receiver] of receivers.entries()) {
    const seqs = receiver.received.map((m) => m.seq)
    if (seqs.join() !== '1,2,3,4,5,6,7,8,9,10,11,12,13,14,15') t.fail(`receiver ${i} got ${seqs.join()}`)
  }
  t.pass(`all ${CLIENTS} clients hold seq 1..15 of their room, once each, in order`)
})
