import t from 'tap'
import type { HistoryOk, MessageSendOk, RoomCreateOk, RoomJoinOk } from '../src/protocol/events.js'
import { startCluster } from './helpers/cluster.js'
import { onStore, STORES } from './helpers/stores.js'
import { clientMsgId, collectMessages, connect, eventually, request, signIn } from './helpers/client.js'

/**
 * A private room is joined, read (socket and REST) and written only by its members; everyone else
 * gets E_FORBIDDEN (REST 403), the same answer as for any other private room, and learns nothing
 * more. An invitation by the owner or a moderator lets a user in.
 */

for (const store of STORES) {
  t.test(`private rooms admit members only; an invitation lets a user in (${store})`, async (t) => {
    const cluster = await startCluster(t, await onStore(t, store))
    const owner = await signIn(cluster.url, 'owner')
    const outsider = await signIn(cluster.url, 'outsider')
    const ownerSocket = await connect(t, cluster.url, owner.token)
    const outsiderSocket = await connect(t, cluster.url, outsider.token)
    const outsiderMessages = collectMessages(outsiderSocket)

    t.same(await request<RoomCreateOk>(ownerSocket, 'room:create', { room: 'secret', visibility: 'private' }), { ok: true, room: 'secret', visibility: 'private' })
    t.match(await request(ownerSocket, 'message:send', { room: 'secret', text: 'early', clientMsgId: clientMsgId() }), { ok: false, error: { code: 'E_NOT_MEMBER' } },
      'creating does not subscribe the connection')
    const joined = await request<RoomJoinOk>(ownerSocket, 'room:join', { room: 'secret' })
    t.match(joined, { ok: true, room: 'secret', visibility: 'private', role: 'owner', staff: [{ userId: owner.userId, role: 'owner' }] })
    t.match(await request<MessageSendOk>(ownerSocket, 'message:send', { room: 'secret', text: 'for members only', clientMsgId: clientMsgId() }), { ok: true, seq: 1 })

    const forbidden = { ok: false, error: { code: 'E_FORBIDDEN', message: 'room secret is not open to you' } }
    t.match(await request(outsiderSocket, 'room:join', { room: 'secret' }), forbidden, 'join refused')
    t.match(await request(outsiderSocket, 'room:join', { room: 'secret', since: 0 }), forbidden, 'join with since refused')
    t.match(await request(outsiderSocket, 'history', { room: 'secret' }), forbidden, 'history refused')
    t.match(await request(outsiderSocket, 'message:send', { room: 'secret', text: 'let me in', clientMsgId: clientMsgId() }), forbidden, 'send refused')
    t.match(await request(outsiderSocket, 'typing', { room: 'secret', typing: true }), forbidden, 'typing refused')
    t.match(await request(outsiderSocket, 'message:delete', { room: 'secret', id: 'x' }), forbidden, 'delete refused')
    t.match(await request(outsiderSocket, 'room:invite', { room: 'secret', userId: outsider.userId }), forbidden, 'inviting oneself refused')
    t.match(await request(outsiderSocket, 'room:kick', { room: 'secret', userId: owner.userId }), forbidden, 'moderation refused')
    t.match(await request(outsiderSocket, 'room:kick', { room: 'never-made', userId: owner.userId }), { ok: false, error: { code: 'E_FORBIDDEN', message: 'room never-made is not open to you' } },
      'a room that does not exist answers the same as a private one')
    t.match(await request(outsiderSocket, 'history', { room: 'SECRET' }), { ok: false, error: { code: 'E_VALIDATION' } }, 'validation comes first')
    t.match(await request(outsiderSocket, 'room:invite', { room: 'secret' }), { ok: false, error: { code: 'E_VALIDATION' } }, 'a missing userId is E_VALIDATION')
    t.match(await request(outsiderSocket, 'history', { room: 'public-never-joined' }), { ok: false, error: { code: 'E_NOT_MEMBER' } },
      'a public room not joined is still E_NOT_MEMBER')

    const rest = async (token: string, room: string): Promise<{ status: number, body: unknown }> => {
      const response = await fetch(`${cluster.url}/api/rooms/${room}/messages`, { headers: { authorization: `Bearer ${token}` } })
      return { status: response.status, body: await response.json() }
    }
    t.match(await rest(outsider.token, 'secret'), { status: 403, body: { error: { code: 'E_FORBIDDEN', message: 'room secret is not open to you' } } }, 'REST refuses with 403')
    t.match(await rest(owner.token, 'secret'), { status: 200, body: { messages: [{ seq: 1, text: 'for members only' }], hasMore: false } }, 'REST serves members')

    t.match(await request(outsiderSocket, 'room:invite', { room: 'secret', userId: 'no-such-user' }), forbidden)
    t.match(await request(ownerSocket, 'room:invite', { room: 'secret', userId: 'no-such-user' }), { ok: false, error: { code: 'E_VALIDATION' } }, 'inviting an unknown user')
    t.same(await request(ownerSocket, 'room:invite', { room: 'secret', userId: outsider.userId }), { ok: true }, 'the owner invites')
    t.same(await request(ownerSocket, 'room:invite', { room: 'secret', userId: outsider.userId }), { ok: true }, 'a second invitation changes nothing')

    const admitted = await request<RoomJoinOk>(outsiderSocket, 'room:join', { room: 'secret' })
    t.match(admitted, { ok: true, role: 'member', missed: [{ seq: 1, text: 'for members only' }] }, 'the invited user joins and reads')
    t.match(await request<HistoryOk>(outsiderSocket, 'history', { room: 'secret' }), { ok: true, messages: [{ seq: 1 }] })
    t.match(await rest(outsider.token, 'secret'), { status: 200 })
    t.match(await request(outsiderSocket, 'message:send', { room: 'secret', text: 'thanks', clientMsgId: clientMsgId() }), { ok: true, seq: 2 })
    await eventually(() => outsiderMessages.some((message) => message.text === 'thanks'))
    t.same(outsiderMessages.map((message) => message.seq), [2], 'the member receives the room live')

    t.same(await request(outsiderSocket, 'room:leave', { room: 'secret' }), { ok: true })
    t.match(await request(outsiderSocket, 'room:join', { room: 'secret' }), { ok: true }, 'leaving unsubscribes; membership lasts')
    t.match(await request(outsiderSocket, 'room:invite', { room: 'secret', userId: owner.userId }), { ok: false, error: { code: 'E_FORBIDDEN' } },
      'a member without a role cannot invite')
  })
}