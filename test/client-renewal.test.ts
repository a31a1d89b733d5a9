import t from 'tap'
import { startCluster } from './helpers/cluster.js'
import { eventually } from './helpers/client.js'
import { startLibraryClient } from './helpers/library-client.js'

/**
 * The client library renews its token before it expires (`POST /api/sessions/renew` and
 * `auth:refresh`): a guest keeps its identity and its connection across many token lifetimes,
 * instead of becoming a new guest.
 */

t.test('a guest keeps its userId and its connection past its token lifetime', async (t) => {
  const cluster = await startCluster(t, { workers: 1, env: { TOKEN_TTL_S: '2', PRESENCE_GRACE_MS: '0' } })
  const recorded = await startLibraryClient(t, cluster.url, 'lasting')
  const { client } = recorded
  await eventually(() => client.state === 'online', 20_000)
  const first = client.session
  const tokens = new Set<string>()
  client.on('session', (session) => tokens.add(session.token))
  await eventually(() => tokens.size >= 3, 20_000) // three renewals: about three token lifetimes
  t.equal(client.session?.userId, first?.userId, 'the same identity throughout')
  t.equal(client.state, 'online')
  t.same(recorded.states.filter((state) => state === 'reconnecting'), [], 'never dropped for an expired token')
  await client.join('lasting')
  t.match(await client.send('lasting', 'still me'), { state: 'delivered', seq: 1 })
})
