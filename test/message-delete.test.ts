import t from 'tap'
import type { HistoryOk, MessageDeletedEvent, MessageSendOk, RoomJoinOk } from '../src/protocol/events.js'
import type { Message } from '../src/protocol/schemas.js'
import { startCluster } from './helpers/cluster.js'
import { onStore, STORES } from './helpers/stores.js'
import { clientMsgId, connect, eventually, request, signIn } from './helpers/client.js'

/**
 * message:delete by its author, or by the room's owner or a moderator; anyone else E_FORBIDDEN.
 * Members hear `message:deleted`; history, since and REST return a tombstone in its place (text
 * "", deleted: true), so seq stays gapless.
 */

for (const store of STORES) {
  t.test(`delete by author and by moderator; tombstones keep seq gapless (${store})`, async (t) => {
    const cluster = await startCluster(t, await onStore(t, store, { workers: 2 }))
    const owner = await signIn(cluster.url, 'owner')
    const mod = await signIn(cluster.url, 'mod')
    const writer = await signIn(cluster.url, 'writer')
    const other = await signIn(cluster.url, 'other')
    const ownerSocket = await connect(t, cluster.url, owner.token)
    const modSocket = await connect(t, cluster.url, mod.token)
    const writerSocket = await connect(t, cluster.url, writer.token)
    const otherSocket = await connect(t, cluster.url, other.token)
    for (const socket of [ownerSocket, modSocket, writerSocket, otherSocket]) t.match(await request(socket, 'room:join', { room: 'forum' }), { ok: true })
    t.same(await request(ownerSocket, 'room:role', { room: 'forum', userId: mod.userId, role: 'moderator' }), { ok: true })
    const deleted: MessageDeletedEvent[] = []
    otherSocket.on('message:deleted', (event) => deleted.push(event))

    const ids: string[] = []
    for (const text of ['one', 'two', 'three', 'four']) {
      const ack = await request<MessageSendOk>(writerSocket, 'message:send', { room: 'forum', text, clientMsgId: clientMsgId() })
      if (ack.ok) ids.push(ack.id)
    }
    t.equal(ids.length, 4)
    const [one, two, three] = ids as [string, string, string, string]

    const forbidden = { ok: false, error: { code: 'E_FORBIDDEN' } }
    t.match(await request(otherSocket, 'message:delete', { room: 'forum', id: one }), forbidden, "a member cannot delete another's message")
    t.match(await request(otherSocket, 'message:delete', { room: 'forum' }), { ok: false, error: { code: 'E_VALIDATION' } })
    t.match(await request(otherSocket, 'message:delete', { room: 'Forum', id: one }), { ok: false, error: { code: 'E_VALIDATION' } })
    t.match(await request(writerSocket, 'message:delete', { room: 'forum', id: 'not-an-id' }), { ok: false, error: { code: 'E_NOT_FOUND' } })
    const stranger = await signIn(cluster.url, 'stranger')
    const strangerSocket = await connect(t, cluster.url, stranger.token)
    t.match(await request(strangerSocket, 'message:delete', { room: 'forum', id: one }), { ok: false, error: { code: 'E_NOT_MEMBER' } },
      'a user who never joined the public room is not a member')

    t.same(await request(writerSocket, 'message:delete', { room: 'forum', id: one }), { ok: true }, 'the author deletes')
    t.same(await request(modSocket, 'message:delete', { room: 'forum', id: two }), { ok: true }, 'a moderator deletes')
    t.same(await request(ownerSocket, 'message:delete', { room: 'forum', id: three }), { ok: true }, 'the owner deletes')
    t.same(await request(ownerSocket, 'message:delete', { room: 'forum', id: three }), { ok: true }, 'deleting twice is fine')
    await eventually(() => deleted.length === 3)
    t.same(deleted, [{ room: 'forum', id: one, seq: 1 }, { room: 'forum', id: two, seq: 2 }, { room: 'forum', id: three, seq: 3 }],
      'members hear each deletion once, across workers')

    const tombstone = (seq: number, id: string): Partial<Message> => ({ id, seq, room: 'forum', userId: writer.userId, username: 'writer', text: '', deleted: true })
    const expectPage = (messages: Message[] | undefined, label: string): void => {
      t.same(messages?.map((message) => message.seq), [1, 2, 3, 4], `${label}: seq stays gapless`)
      t.match(messages?.slice(0, 3), [tombstone(1, one), tombstone(2, two), tombstone(3, three)], `${label}: tombstones`)
      t.match(messages?.[3], { seq: 4, text: 'four' }, `${label}: the rest untouched`)
      t.equal(messages?.[3]?.deleted, undefined)
    }
    const history = await request<HistoryOk>(otherSocket, 'history', { room: 'forum' })
    expectPage(history.ok ? history.messages : undefined, 'history')
    const since = await request<RoomJoinOk>(strangerSocket, 'room:join', { room: 'forum', since: 0 })
    expectPage(since.ok ? since.missed : undefined, 'since')
    const rest = await (await fetch(`${cluster.url}/api/rooms/forum/messages?after=0`, { headers: { authorization: `Bearer ${other.token}` } })).json() as { messages: Message[] }
    expectPage(rest.messages, 'REST')

    t.match(await request<MessageSendOk>(writerSocket, 'message:send', { room: 'forum', text: 'five', clientMsgId: clientMsgId() }), { ok: true, seq: 5 }, 'seq goes on')
  })
}