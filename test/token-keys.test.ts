import { generateKeyPairSync } from 'node:crypto'
import { createDecoder, createSigner } from 'fast-jwt'
import t, { type Test } from 'tap'
import { startCluster, TEST_SECRET } from './helpers/cluster.js'
import { connect, connectError, request, signIn } from './helpers/client.js'

/**
 * Tokens minted elsewhere (PROTOCOL.md: "mint tokens elsewhere with the same secret or key"):
 * every issued token carries a `jti`; verification keys by `kid` (JWT_KEYS) for rotation, the
 * signing key chosen by JWT_KID; PEM public keys (RS256, EdDSA) so an app backend signs without
 * sharing a secret; issuer and audience checked when configured.
 */

const decode = createDecoder({ complete: true }) as (token: string) => { header: { kid?: string, alg: string }, payload: Record<string, unknown> }
const OLD_SECRET = 'rotated-out-secret-0123456789-abcdefghijklmnop'
const NEW_SECRET = 'current-secret-0123456789-abcdefghijklmnopqrs'

async function accepted (t: Test, url: string, token: string, label: string): Promise<void> {
  const socket = await connect(t, url, token)
  t.match(await request(socket, 'room:join', { room: 'keys' }), { ok: true }, `accepted: ${label}`)
  socket.close()
  const rest = await fetch(`${url}/api/rooms/keys/messages`, { headers: { authorization: `Bearer ${token}` } })
  t.equal(rest.status, 200, `REST accepts it too: ${label}`)
}

async function refused (t: Test, url: string, token: string, label: string): Promise<void> {
  t.same((await connectError(t, url, token)).data, { code: 'E_UNAUTHORIZED' }, `refused: ${label}`)
  const rest = await fetch(`${url}/api/rooms/keys/messages`, { headers: { authorization: `Bearer ${token}` } })
  t.equal(rest.status, 401, `REST refuses it too: ${label}`)
}

t.test('every issued token has a jti of its own', async (t) => {
  const cluster = await startCluster(t)
  const one = decode((await signIn(cluster.url, 'ida')).token)
  const two = decode((await signIn(cluster.url, 'ida')).token)
  t.type(one.payload.jti, 'string')
  t.ok((one.payload.jti as string).length >= 16, 'a long random jti')
  t.not(one.payload.jti, two.payload.jti)
  t.equal(one.header.alg, 'HS256')
  t.equal(one.header.kid, undefined, 'signed with JWT_SECRET: no kid')
})

t.test('key rotation by kid, and public keys for tokens minted by an app backend', async (t) => {
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 })
  const ed = generateKeyPairSync('ed25519')
  const stranger = generateKeyPairSync('rsa', { modulusLength: 2048 })
  const pem = (key: typeof rsa.publicKey): string => key.export({ type: 'spki', format: 'pem' }).toString()
  const keys = { old: OLD_SECRET, current: NEW_SECRET, backend: pem(rsa.publicKey), edge: pem(ed.publicKey) }
  const cluster = await startCluster(t, { env: { JWT_KEYS: JSON.stringify(keys), JWT_KID: 'current' } })

  const issued = decode((await signIn(cluster.url, 'jo')).token)
  t.equal(issued.header.kid, 'current', 'new tokens are signed with JWT_KID')
  const claims = { sub: 'ext-1', name: 'external' }
  const hs = (key: string, kid?: string) => createSigner({ key, algorithm: 'HS256', expiresIn: 60_000, ...(kid === undefined ? {} : { kid }) })(claims)

  await accepted(t, cluster.url, hs(OLD_SECRET, 'old'), 'an older secret still listed')
  await accepted(t, cluster.url, hs(NEW_SECRET, 'current'), 'the current secret')
  await accepted(t, cluster.url, hs(TEST_SECRET), 'JWT_SECRET without a kid')
  await accepted(t, cluster.url, createSigner({ key: rsa.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), algorithm: 'RS256', kid: 'backend', expiresIn: 60_000 })(claims), 'RS256 by the backend')
  await accepted(t, cluster.url, createSigner({ key: ed.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), algorithm: 'EdDSA', kid: 'edge', expiresIn: 60_000 })(claims), 'EdDSA')

  await refused(t, cluster.url, hs(OLD_SECRET, 'current'), 'a secret under another kid')
  await refused(t, cluster.url, hs(NEW_SECRET), 'a JWT_KEYS secret without its kid')
  await refused(t, cluster.url, hs(OLD_SECRET, 'retired'), 'an unknown kid')
  await refused(t, cluster.url, createSigner({ key: stranger.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), algorithm: 'RS256', kid: 'backend', expiresIn: 60_000 })(claims), 'RS256 by another key')
  await refused(t, cluster.url, hs(keys.backend, 'backend'), 'HS256 with the public key as its secret (algorithm confusion)')
  await refused(t, cluster.url, createSigner({ key: rsa.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), algorithm: 'RS256', kid: 'current', expiresIn: 60_000 })(claims), 'RS256 under an HS256 kid')
})

t.test('issuer and audience', async (t) => {
  const cluster = await startCluster(t, { env: { JWT_ISSUER: 'https://auth.example', JWT_AUDIENCE: 'chat' } })
  const issued = decode((await signIn(cluster.url, 'kim')).token)
  t.same([issued.payload.iss, issued.payload.aud], ['https://auth.example', 'chat'], 'issued tokens carry both')
  const sign = (extra: Record<string, unknown>) => createSigner({ key: TEST_SECRET, algorithm: 'HS256', expiresIn: 60_000 })({ sub: 'ext-2', name: 'external', ...extra })
  await accepted(t, cluster.url, sign({ iss: 'https://auth.example', aud: 'chat' }), 'the right issuer and audience')
  await accepted(t, cluster.url, sign({ iss: 'https://auth.example', aud: ['other', 'chat'] }), 'an audience list that names us')
  await refused(t, cluster.url, sign({ aud: 'chat' }), 'no issuer')
  await refused(t, cluster.url, sign({ iss: 'https://evil.example', aud: 'chat' }), 'another issuer')
  await refused(t, cluster.url, sign({ iss: 'https://auth.example' }), 'no audience')
  await refused(t, cluster.url, sign({ iss: 'https://auth.example', aud: 'billing' }), 'another audience')
})
