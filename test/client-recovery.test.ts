import t, { type Test } from 'tap'
import type { Message, SendOutcome } from '../src/client/index.js'
import { startCluster } from './helpers/cluster.js'
import { eventually, metric } from './helpers/client.js'
import { startLibraryClient, workerPid, workerWithConnections, type RecordedClient } from './helpers/library-client.js'

/**
 * The client library against the real cluster: a reader whose connection is cut (its worker
 * killed, or the whole service restarted) while a writer keeps sending ends with every message
 * exactly once, in seq order; a send retried after a lost ack reuses its clientMsgId and is
 * stored once.
 */

const FAST = { MESSAGE_RATE_PER_S: '1000', MESSAGE_BURST: '1000', EVENT_RATE_PER_S: '1000', EVENT_BURST: '1000' }
const ROOM = 'recovery'

async function sendBatch (writer: RecordedClient, label: string, count: number): Promise<SendOutcome[]> {
  return await Promise.all(Array.from({ length: count }, (_, i) => writer.client.send(ROOM, `${label}-${i}`)))
}

/** Every message of 1..lastSeq exactly once, in order, and the texts the writer had acked. */
function assertComplete (t: Test, received: Message[], outcomes: SendOutcome[]): void {
  const delivered = outcomes.filter((outcome) => outcome.state === 'delivered')
  t.equal(delivered.length, outcomes.length, 'every send was delivered')
  const bySeq = [...delivered].sort((a, b) => a.seq - b.seq)
  t.same(bySeq.map((outcome) => outcome.seq), Array.from({ length: outcomes.length }, (_, i) => i + 1), 'the writer stored each message once: seqs 1..n')
  t.same(received.map((message) => message.seq), bySeq.map((outcome) => outcome.seq), 'the reader got each seq once, in order')
  t.same(received.map((message) => message.text), bySeq.map((outcome) => outcome.text), 'with the texts that were sent')
}

t.test('a reader recovers every message through a worker kill', async (t) => {
  const cluster = await startCluster(t, { env: FAST })
  // A fixed, slow first retry: the writer's next batch is surely sent while the reader is away.
  const reader = await startLibraryClient(t, cluster.url, 'reader', { reconnectionDelayMs: 2000, randomizationFactor: 0 })
  await reader.client.join(ROOM)
  const readerWorker = await workerWithConnections(cluster.opsUrl, 1)
  const writer = await startLibraryClient(t, cluster.url, 'writer')
  await writer.client.join(ROOM)
  const otherWorker = readerWorker === '1' ? '2' : '1'
  t.equal(await metric(cluster.opsUrl, 'chat_connections', { worker: otherWorker }), 1, 'the writer is on the other worker')

  const outcomes = await sendBatch(writer, 'before', 10)
  await eventually(() => reader.messages.length === 10)

  process.kill(workerPid(cluster, readerWorker), 'SIGKILL')
  await eventually(() => reader.client.state === 'reconnecting')
  outcomes.push(...await sendBatch(writer, 'during', 20))
  await eventually(() => reader.client.state === 'online', 20_000)
  outcomes.push(...await sendBatch(writer, 'after', 10))

  await eventually(() => reader.client.lastSeq(ROOM) === 40, 20_000)
  assertComplete(t, reader.messages, outcomes)
  const rejoin = reader.syncs.at(-1)
  t.ok(reader.syncs.length >= 2 && rejoin !== undefined && rejoin.recovered > 0, 'the rejoin after the reconnect recovered what was missed')
  t.equal(writer.states.filter((state) => state === 'reconnecting').length, 0, 'the writer on the other worker stayed connected')
})

t.test('a reader recovers every message through a service restart', async (t) => {
  const first = await startCluster(t, { env: FAST })
  const reader = await startLibraryClient(t, first.url, 'reader')
  const writer = await startLibraryClient(t, first.url, 'writer')
  await reader.client.join(ROOM)
  await writer.client.join(ROOM)

  const outcomes = await sendBatch(writer, 'before', 10)
  await eventually(() => reader.messages.length === 10)

  t.equal(await first.stop('SIGTERM'), 0, 'the service drained and exited cleanly')
  await eventually(() => reader.client.state === 'reconnecting' && writer.client.state === 'reconnecting')
  // Sent while the service is down: these wait in the writer's outbox and go once it is back.
  const duringRestart = sendBatch(writer, 'during', 20)
  await startCluster(t, { env: FAST, dataDir: first.dataDir, port: first.port })
  outcomes.push(...await duringRestart)
  outcomes.push(...await sendBatch(writer, 'after', 10))

  await eventually(() => reader.client.lastSeq(ROOM) === 40, 20_000)
  assertComplete(t, reader.messages, outcomes)
  t.ok(reader.states.includes('reconnecting') && reader.states.at(-1) === 'online', 'the reader went through reconnecting and is online again')
})

t.test('a send retried after a lost ack reuses its clientMsgId and is stored once', async (t) => {
  const cluster = await startCluster(t, { workers: 1 })
  const writer = await startLibraryClient(t, cluster.url, 'writer', { ackTimeoutMs: 300, maxSendAttempts: 50 })
  const reader = await startLibraryClient(t, cluster.url, 'reader')
  await writer.client.join('resend')
  await reader.client.join('resend')

  // A stopped worker reads nothing: the send and its retries wait in the socket's buffer, every
  // ack times out, and on SIGCONT the worker stores the first and answers the retries with it.
  const pid = workerPid(cluster, '1')
  process.kill(pid, 'SIGSTOP')
  t.teardown(() => { try { process.kill(pid, 'SIGCONT') } catch {} })
  const sending = writer.client.send('resend', 'exactly once')
  await eventually(() => writer.sends.some((status) => status.state === 'pending' && status.attempt >= 2))
  process.kill(pid, 'SIGCONT')

  const outcome = await sending
  t.match(outcome, { state: 'delivered', seq: 1 })
  const ids = new Set(writer.sends.map((status) => status.clientMsgId))
  t.equal(ids.size, 1, 'every attempt carried the same clientMsgId')
  t.ok(writer.sends.filter((status) => status.state === 'pending' && status.error?.code === 'E_NO_ANSWER').length >= 2, 'the send was retried after lost acks')

  // In-order delivery makes the next message a barrier: a double would arrive before it.
  t.match(await writer.client.send('resend', 'next'), { state: 'delivered', seq: 2 })
  await eventually(() => reader.messages.length >= 2)
  t.same(reader.messages.map((message) => [message.seq, message.text]), [[1, 'exactly once'], [2, 'next']])
  t.same(writer.messages.map((message) => message.seq), [1, 2], 'the writer saw its own message once too')
})
