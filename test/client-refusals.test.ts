import t from 'tap'
import { ChatClient, type ConnectionChange } from '../src/client/index.js'
import { startCluster } from './helpers/cluster.js'
import { eventually } from './helpers/client.js'
import { startLibraryClient } from './helpers/library-client.js'

/**
 * Handshakes the server refuses, which socket.io-client does not retry by itself: a full server
 * (E_OVERLOADED) is tried again after its retryAfterMs, a refused token (E_UNAUTHORIZED) is
 * replaced by renewing it or, failing that, by a guest sign-in under the same name; a refused
 * join fails instead of hanging.
 */

t.test('a client refused by a full server connects once there is room', async (t) => {
  const cluster = await startCluster(t, { workers: 1, env: { MAX_CONNECTIONS: '1' } })
  const first = await startLibraryClient(t, cluster.url, 'first')
  await first.client.join('full')

  const changes: ConnectionChange[] = []
  const second = await startLibraryClient(t, cluster.url, 'second')
  second.client.on('state', (change) => changes.push(change))
  await eventually(() => changes.some((change) => change.state === 'reconnecting'))
  const refused = changes.find((change) => change.state === 'reconnecting')
  t.match(refused, { code: 'E_OVERLOADED' }, 'the handshake was refused as overloaded')
  t.ok((refused?.retryInMs ?? 0) > 0, 'and the client planned its own retry')

  first.client.close()
  await eventually(() => second.client.state === 'online', 20_000)
  await second.client.join('full')
  t.match(await second.client.send('full', 'made it'), { state: 'delivered', seq: 1 })
})

t.test('a client whose token is refused signs in again as the same user', async (t) => {
  const cluster = await startCluster(t, { workers: 1 })
  const client = new ChatClient({ url: cluster.url, socket: { transports: ['websocket'] } })
  t.teardown(() => client.close())
  const expiresAt = new Date(Date.now() + 3600_000).toISOString()
  client.useSession({ token: 'not-a-valid-token', userId: 'unknown', username: 'zoe', expiresAt })
  const sessions: string[] = []
  client.on('session', (session) => sessions.push(session.token))
  client.connect()

  await eventually(() => client.state === 'online', 20_000)
  t.equal(sessions.length, 1, 'a new session replaced the refused one')
  t.equal(client.session?.username, 'zoe', 'for the same username')
  t.not(client.session?.token, 'not-a-valid-token')
  await client.join('again')
  t.match(await client.send('again', 'hello'), { state: 'delivered', seq: 1 })
})

t.test('a join the server refuses rejects, and so do sends to that room', async (t) => {
  const cluster = await startCluster(t, { workers: 1, env: { ROOMS_PER_SOCKET: '1' } })
  const { client } = await startLibraryClient(t, cluster.url, 'yara')
  await client.join('first')
  const errors: string[] = []
  client.on('error', (error) => errors.push(`${error.room ?? ''} ${error.code}`))
  const sending = client.send('second', 'never stored')
  await t.rejects(client.join('second'), { code: 'E_FORBIDDEN' }, 'the second room is one too many')
  t.match(await sending, { state: 'failed', error: { code: 'E_NOT_MEMBER' } }, 'the send waiting for it fails instead of hanging')
  t.same(errors, ['second E_FORBIDDEN'], 'and the client reported it')
  t.match(await client.send('first', 'still fine'), { state: 'delivered', seq: 1 })
})
