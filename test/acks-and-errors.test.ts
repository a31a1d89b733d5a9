import t from 'tap'
import type { HistoryOk, MessageSendOk, RoomJoinOk } from '../src/protocol/events.js'
import { startCluster } from './helpers/cluster.js'
import { clientMsgId, connect, renew, request, signIn } from './helpers/client.js'

/** Every ack shape of PROTOCOL.md and the error code each kind of bad input gets. */

t.test('ack shapes and error codes', async (t) => {
  const cluster = await startCluster(t, { env: { ROOMS_PER_SOCKET: '3' } })
  const alice = await signIn(cluster.url, 'alice')
  const socket = await connect(t, cluster.url, alice.token)

  const expectError = async (event: string, payload: unknown, code: string, label: string): Promise<void> => {
    const ack = await request(socket, event, payload)
    t.match(ack, { ok: false, error: { code, message: String } }, label)
  }

  t.test('room:join', async (t) => {
    const ack = await request<RoomJoinOk>(socket, 'room:join', { room: 'acks' })
    t.match(ack, { ok: true, room: 'acks', seq: 0, missed: [], hasMore: false, members: [{ userId: alice.userId, username: 'alice' }] })
    await expectError('room:join', { room: 'Bad Room' }, 'E_VALIDATION', 'room name pattern')
    await expectError('room:join', { room: '' }, 'E_VALIDATION', 'empty room')
    await expectError('room:join', { room: 'a'.repeat(65) }, 'E_VALIDATION', 'room too long')
    await expectError('room:join', { room: 'acks', since: -1 }, 'E_VALIDATION', 'negative since')
    await expectError('room:join', { room: 'acks', since: 1.5 }, 'E_VALIDATION', 'fractional since')
    await expectError('room:join', { room: 'acks', since: 2 ** 53 }, 'E_VALIDATION', 'unsafe since')
    await expectError('room:join', { room: 'acks', since: '3' }, 'E_VALIDATION', 'string since')
    await expectError('room:join', 'acks', 'E_VALIDATION', 'payload not an object')
    await expectError('room:join', null, 'E_VALIDATION', 'null payload')
    t.match(await request(socket, 'room:join', { room: 'extra-1' }), { ok: true })
    t.match(await request(socket, 'room:join', { room: 'extra-2' }), { ok: true })
    await expectError('room:join', { room: 'extra-3' }, 'E_FORBIDDEN', 'room limit per connection')
    t.match(await request(socket, 'room:leave', { room: 'extra-2' }), { ok: true })
    t.match(await request(socket, 'room:leave', { room: 'extra-1' }), { ok: true })
  })

  t.test('message:send', async (t) => {
    const ack = await request<MessageSendOk>(socket, 'message:send', { room: 'acks', text: '  Cafe\u0301  ', clientMsgId: clientMsgId() })
    t.match(ack, { ok: true, id: String, seq: 1, ts: Number })
    const history = await request<HistoryOk>(socket, 'history', { room: 'acks' })
    t.equal(history.ok && history.messages[0]?.text, 'Café', 'stored text is NFC-normalized and trimmed')
    await expectError('message:send', { room: 'acks', text: '   ', clientMsgId: clientMsgId() }, 'E_VALIDATION', 'blank text')
    await expectError('message:send', { room: 'acks', text: 'x'.repeat(2001), clientMsgId: clientMsgId() }, 'E_VALIDATION', '2001 code points')
    t.match(await request(socket, 'message:send', { room: 'acks', text: '😀'.repeat(2000), clientMsgId: clientMsgId() }), { ok: true }, '2000 astral code points fit')
    await expectError('message:send', { room: 'acks', text: 'bell\u0007', clientMsgId: clientMsgId() }, 'E_VALIDATION', 'control character')
    await expectError('message:send', { room: 'acks', text: 'evil\u202Etxt', clientMsgId: clientMsgId() }, 'E_VALIDATION', 'bidi override')
    await expectError('message:send', { room: 'acks', text: 'lone \uD800 surrogate', clientMsgId: clientMsgId() }, 'E_VALIDATION', 'lone surrogate')
    await expectError('message:send', { room: 'acks', text: 'hi', clientMsgId: 'short' }, 'E_VALIDATION', 'clientMsgId too short')
    await expectError('message:send', { room: 'acks', text: 'hi', clientMsgId: 'has space in it' }, 'E_VALIDATION', 'clientMsgId charset')
    await expectError('message:send', { room: 'acks', text: 42, clientMsgId: clientMsgId() }, 'E_VALIDATION', 'text not a string')
    await expectError('message:send', { room: 'elsewhere', text: 'hi', clientMsgId: clientMsgId() }, 'E_NOT_MEMBER', 'not joined')
    await expectError('message:send', { room: 'BAD', text: 'hi', clientMsgId: clientMsgId() }, 'E_VALIDATION', 'validation comes before membership')
    t.match(await request(socket, 'message:send', { room: 'acks', text: 'keep\ttabs\nand lines', clientMsgId: clientMsgId() }), { ok: true }, 'tab and newline are text')
  })

  t.test('history', async (t) => {
    const ack = await request<HistoryOk>(socket, 'history', { room: 'acks', limit: 1 })
    t.match(ack, { ok: true, messages: [{ room: 'acks', seq: Number }], hasMore: true })
    await expectError('history', { room: 'acks', limit: 0 }, 'E_VALIDATION', 'limit 0')
    await expectError('history', { room: 'acks', limit: 101 }, 'E_VALIDATION', 'limit 101')
    await expectError('history', { room: 'acks', before: -5 }, 'E_VALIDATION', 'negative before')
    await expectError('history', { room: 'elsewhere' }, 'E_NOT_MEMBER', 'history needs membership')
  })

  t.test('typing and leave', async (t) => {
    t.same(await request(socket, 'typing', { room: 'acks', typing: true }), { ok: true })
    t.same(await request(socket, 'typing', { room: 'acks', typing: false }), { ok: true })
    await expectError('typing', { room: 'acks', typing: 'yes' }, 'E_VALIDATION', 'typing must be boolean')
    await expectError('typing', { room: 'elsewhere', typing: true }, 'E_NOT_MEMBER', 'typing needs membership')
    t.same(await request(socket, 'room:leave', { room: 'never-joined' }), { ok: true }, 'leaving a room not joined is ok')
    await expectError('room:leave', { room: 'NO' }, 'E_VALIDATION', 'leave validates')
  })

  t.test('unknown events', async (t) => {
    await expectError('no-such-event', { room: 'acks' }, 'E_VALIDATION', 'unknown event with an ack')
    ;(socket as unknown as { emit: (event: string, payload: unknown) => void }).emit('no-such-event', { room: 'acks' }) // no ack: ignored
    t.ok(socket.connected, 'an unknown event never disconnects')
    t.match(await request(socket, 'room:join', { room: 'acks' }), { ok: true }, 'the socket still works')
  })

  t.test('1.1 events: validation first, then membership; bad input never disconnects', async (t) => {
    const bad: Array<[string, unknown]> = [
      ['room:create', { room: 'Bad Room' }], ['room:create', { room: 'ok', visibility: 'hidden' }], ['room:create', 'acks'],
      ['room:invite', { room: 'acks' }], ['room:invite', { room: 'acks', userId: '' }], ['room:invite', { room: 'acks', userId: 7 }],
      ['room:kick', { room: 'NOPE', userId: 'u' }], ['room:ban', null], ['room:unban', { userId: 'u' }],
      ['room:role', { room: 'acks', userId: 'u', role: 'owner' }], ['room:role', { room: 'acks', userId: 'u' }],
      ['dm:open', {}], ['dm:open', { userId: 'x'.repeat(129) }], ['dm:open', []],
      ['message:delete', { room: 'acks' }], ['message:delete', { room: 'acks', id: '' }], ['message:delete', { room: 'elsewhere', id: 'x'.repeat(65) }]
    ]
    for (const [event, payload] of bad) await expectError(event, payload, 'E_VALIDATION', `${event} ${JSON.stringify(payload)}`)
    await expectError('message:delete', { room: 'elsewhere', id: 'some-id' }, 'E_NOT_MEMBER', 'delete in a public room never joined')
    await expectError('room:kick', { room: 'never-made', userId: 'someone' }, 'E_FORBIDDEN', 'moderation of a room that does not exist')
    t.ok(socket.connected, 'still connected')
  })

  t.test('auth:refresh', async (t) => {
    const fresh = await renew(cluster.url, alice.token)
    t.equal(fresh.userId, alice.userId, 'a renewed token keeps the identity')
    t.match(await request(socket, 'auth:refresh', { token: fresh.token }), { ok: true, expiresAt: String })
    const other = await signIn(cluster.url, 'mallory')
    await expectError('auth:refresh', { token: other.token }, 'E_FORBIDDEN', "another user's token")
    await expectError('auth:refresh', { token: 'garbage' }, 'E_UNAUTHORIZED', 'bad token')
  })
})
