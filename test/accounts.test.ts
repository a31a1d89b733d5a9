import t from 'tap'
import { startCluster } from './helpers/cluster.js'
import { onStore, STORES } from './helpers/stores.js'
import { connect, request, signIn } from './helpers/client.js'

/**
 * Accounts and guests (PROTOCOL.md 1.1, Identity): registration, password sign-in, one identity
 * per account, a new identity per guest sign-in, and no way to reach an account's identity or
 * learn which names are accounts from the answers.
 */

interface Answer { status: number, body: string }

async function post (url: string, path: string, body: unknown): Promise<Answer> {
  const response = await fetch(`${url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })
  return { status: response.status, body: await response.text() }
}

for (const store of STORES) {
  t.test(`register, sign in, conflicts (${store})`, async (t) => {
    const cluster = await startCluster(t, await onStore(t, store))
    const created = await post(cluster.url, '/api/users', { username: 'alice', password: 'correct horse' })
    t.equal(created.status, 201, 'registered')
    const account = JSON.parse(created.body) as { userId: string, username: string }
    t.match(account, { userId: String, username: 'alice' })
    t.same(Object.keys(account).sort(), ['userId', 'username'], 'no password or hash in the answer')

    for (const name of ['alice', 'ALICE', 'Alice']) {
      const taken = await post(cluster.url, '/api/users', { username: name, password: 'another password' })
      t.equal(taken.status, 409, `${name}: taken`)
      t.match(JSON.parse(taken.body), { error: { code: 'E_CONFLICT', message: String } })
    }
    t.match(await post(cluster.url, '/api/users', { username: 'bob', password: 'short' }), { status: 400 }, 'password under 8 characters')
    t.match(await post(cluster.url, '/api/users', { username: 'bob', password: 'x'.repeat(129) }), { status: 400 }, 'password over 128 characters')
    t.match(await post(cluster.url, '/api/users', { username: 'bob' }), { status: 400 }, 'no password')
    t.match(await post(cluster.url, '/api/users', { username: 'no spaces', password: 'long enough' }), { status: 400 }, 'username pattern')
    t.equal((await fetch(`${cluster.url}/api/users`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: '{}' })).status, 415)

    const first = await post(cluster.url, '/api/sessions', { username: 'alice', password: 'correct horse' })
    t.equal(first.status, 201, 'signed in with the password')
    const session = JSON.parse(first.body) as { token: string, userId: string, username: string, expiresAt: string }
    t.match(session, { token: String, userId: account.userId, username: 'alice', expiresAt: String })
    const again = JSON.parse((await post(cluster.url, '/api/sessions', { username: 'ALICE', password: 'correct horse' })).body) as { userId: string, username: string }
    t.same([again.userId, again.username], [account.userId, 'alice'], 'any case of the name reaches the one account, under its own spelling')

    const socket = await connect(t, cluster.url, session.token)
    t.match(await request(socket, 'room:join', { room: 'lobby' }), { ok: true, members: [{ userId: account.userId, username: 'alice' }] })
  })
}
for (const store of STORES) {
  t.test(`impersonation: guests never reach an account, and refusals look alike (${store})`, async (t) => {
    const cluster = await startCluster(t, await onStore(t, store))
    const account = JSON.parse((await post(cluster.url, '/api/users', { username: 'carol', password: 'carol password' })).body) as { userId: string }

    for (const name of ['carol', 'CAROL']) {
      const guest = await post(cluster.url, '/api/sessions', { username: name })
      t.equal(guest.status, 401, `a guest cannot take the account's name (${name})`)
      t.match(JSON.parse(guest.body), { error: { code: 'E_UNAUTHORIZED' } })
    }

    const wrongPassword = await post(cluster.url, '/api/sessions', { username: 'carol', password: 'not her password' })
    const unknownAccount = await post(cluster.url, '/api/sessions', { username: 'nobody', password: 'not her password' })
    t.equal(wrongPassword.status, 401)
    t.equal(unknownAccount.status, 401)
    t.equal(wrongPassword.body, unknownAccount.body, 'a wrong password and an unknown account: byte-for-byte the same body')
    t.match(JSON.parse(wrongPassword.body), { error: { code: 'E_UNAUTHORIZED' } })

    // A guest under a name no account has: a new identity each time, never the account's.
    const one = await signIn(cluster.url, 'dave')
    const two = await signIn(cluster.url, 'dave')
    t.not(one.userId, two.userId, 'two guests with the same name are two users')
    t.not(one.userId, account.userId)
    t.not(two.userId, account.userId)
    t.same([one.username, two.username], ['dave', 'dave'], 'both keep the display name')

    // Registering a name guests used does not hand their identity to the account.
    const registered = JSON.parse((await post(cluster.url, '/api/users', { username: 'dave', password: 'dave password' })).body) as { userId: string }
    t.not(registered.userId, one.userId, 'the account is a new identity')
    t.equal((await post(cluster.url, '/api/sessions', { username: 'dave' })).status, 401, 'the name now signs in only with the password')
    const guestSocket = await connect(t, cluster.url, one.token)
    t.match(await request(guestSocket, 'room:join', { room: 'lobby' }), { ok: true, members: [{ userId: one.userId }] }, "an earlier guest's token keeps its own identity")
  })
}
for (const store of STORES) {
  t.test(`GUESTS=false: only accounts sign in (${store})`, async (t) => {
    const cluster = await startCluster(t, await onStore(t, store, { env: { GUESTS: 'false' } }))
    const guest = await post(cluster.url, '/api/sessions', { username: 'erin' })
    t.equal(guest.status, 403, 'guest sign-in is off')
    t.match(JSON.parse(guest.body), { error: { code: 'E_FORBIDDEN' } })
    t.equal((await post(cluster.url, '/api/users', { username: 'erin', password: 'erin password' })).status, 201)
    t.equal((await post(cluster.url, '/api/sessions', { username: 'erin', password: 'erin password' })).status, 201, 'accounts still sign in')
  })
}