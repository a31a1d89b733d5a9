import t from 'tap'
import type { Emit } from '../src/client/client-events.js'
import type { Message } from '../src/client/index.js'
import { createRequester } from '../src/client/request.js'
import { RoomFeed } from '../src/client/room-feed.js'
import { startCluster } from './helpers/cluster.js'
import { collectMessages, connect, eventually, signIn } from './helpers/client.js'
import { startLibraryClient } from './helpers/library-client.js'

/**
 * The client's gap detection against the real server. The server itself delivers a room's
 * messages without holes, so the test makes one: its feed is offered only the last of a run of
 * live messages and must read the ones before it with `history` (paging past 100), deliver all
 * in seq order, and drop the ones offered again.
 */

const FAST = { MESSAGE_RATE_PER_S: '1000', MESSAGE_BURST: '1000', EVENT_RATE_PER_S: '1000', EVENT_BURST: '1000' }

t.test('a live message after a hole is preceded by the hole, read from history', async (t) => {
  const cluster = await startCluster(t, { env: FAST })
  const session = await signIn(cluster.url, 'reader')
  const socket = await connect(t, cluster.url, session.token)
  const live = collectMessages(socket)
  const delivered: Message[] = []
  const emit = ((event: string, ...args: unknown[]) => {
    if (event === 'message') delivered.push(args[0] as Message)
  }) as Emit
  const closing = new AbortController()
  t.teardown(() => closing.abort())
  const feed = new RoomFeed('gaps', {
    request: createRequester(() => socket, 10_000),
    emit,
    online: () => socket.connected,
    refused: (error) => t.fail(`join refused: ${error.code}`),
    signal: closing.signal,
    backoff: { baseDelayMs: 100, maxDelayMs: 1000, randomizationFactor: 0.5 }
  })
  await feed.sync()

  const writer = await startLibraryClient(t, cluster.url, 'writer')
  await writer.client.join('gaps')
  await Promise.all(Array.from({ length: 130 }, (_, i) => writer.client.send('gaps', `m${i + 1}`)))
  await eventually(() => live.length === 130)

  feed.offer(live[129] as Message)
  feed.offer(live[5] as Message)
  feed.offer(live[129] as Message)
  await eventually(() => delivered.length >= 130)
  await feed.sync()
  t.same(delivered.map((message) => message.seq), Array.from({ length: 130 }, (_, i) => i + 1), 'seqs 1..130, each once')
  t.same(delivered.map((message) => message.text), live.map((message) => message.text), 'the messages the room holds')
  t.equal(feed.lastSeq, 130)
})
