import t from 'tap'
import { startCluster } from './helpers/cluster.js'
import { connect, connectError, signIn } from './helpers/client.js'

/**
 * TRUST_PROXY: only a trusted peer's X-Forwarded-For names the client, and every per-address
 * limit counts that client address (here: MAX_CONNECTIONS_PER_IP=1). An untrusted peer cannot
 * choose its address by sending the header.
 */

const forwardedFor = (address: string): object => ({ extraHeaders: { 'x-forwarded-for': address } })

t.test('a trusted proxy: each forwarded client has its own quota', async (t) => {
  const cluster = await startCluster(t, { env: { TRUST_PROXY: '127.0.0.1', MAX_CONNECTIONS_PER_IP: '1' } })
  const { token } = await signIn(cluster.url, 'proxied')
  t.ok((await connect(t, cluster.url, token, forwardedFor('203.0.113.1'))).connected, 'client 203.0.113.1')
  t.ok((await connect(t, cluster.url, token, forwardedFor('203.0.113.2'))).connected, 'client 203.0.113.2, through the same proxy')
  t.equal((await connectError(t, cluster.url, token, forwardedFor('203.0.113.1'))).data?.code, 'E_OVERLOADED', 'the same client again: over its quota')
  t.equal((await connectError(t, cluster.url, token, forwardedFor('198.51.100.7, 203.0.113.1'))).data?.code, 'E_OVERLOADED',
    'a spoofed hop before the client the proxy saw does not help: the nearest untrusted address counts')
})

t.test('an untrusted peer: X-Forwarded-For is ignored', async (t) => {
  const cluster = await startCluster(t, { env: { TRUST_PROXY: '10.0.0.0/8', MAX_CONNECTIONS_PER_IP: '1' } })
  const { token } = await signIn(cluster.url, 'direct')
  t.ok((await connect(t, cluster.url, token, forwardedFor('203.0.113.1'))).connected)
  t.equal((await connectError(t, cluster.url, token, forwardedFor('203.0.113.2'))).data?.code, 'E_OVERLOADED', 'both count as 127.0.0.1')
})

t.test('TRUST_PROXY=false (the default) believes no one', async (t) => {
  const cluster = await startCluster(t, { env: { MAX_CONNECTIONS_PER_IP: '1' } })
  const { token } = await signIn(cluster.url, 'nobody-trusted')
  t.ok((await connect(t, cluster.url, token, forwardedFor('203.0.113.1'))).connected)
  t.equal((await connectError(t, cluster.url, token, forwardedFor('203.0.113.2'))).data?.code, 'E_OVERLOADED')
})
