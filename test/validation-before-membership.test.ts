import t from 'tap'
import { startCluster } from './helpers/cluster.js'
import { clientMsgId, connect, request, signIn } from './helpers/client.js'

/**
 * Validation comes before membership (PROTOCOL.md): a payload that is wrong is E_VALIDATION
 * whether or not the socket joined the room, the text's own checks included; only a valid
 * request to a room not joined is E_NOT_MEMBER.
 */

t.test('every event validates its whole payload before it looks at membership', async (t) => {
  const cluster = await startCluster(t)
  const socket = await connect(t, cluster.url, (await signIn(cluster.url, 'val')).token)
  const code = async (event: string, payload: unknown): Promise<string> => {
    const ack = await request(socket, event, payload)
    return ack.ok ? 'ok' : ack.error.code
  }
  const send = (text: unknown, room = 'not-joined'): Promise<string> => code('message:send', { room, text, clientMsgId: clientMsgId() })

  t.equal(await send('   '), 'E_VALIDATION', 'blank text')
  t.equal(await send('x'.repeat(2001)), 'E_VALIDATION', 'text over 2000 code points')
  t.equal(await send('bell\u0007'), 'E_VALIDATION', 'control character')
  t.equal(await send('evil\u202Etxt'), 'E_VALIDATION', 'bidi override')
  t.equal(await send('lone \uD800 surrogate'), 'E_VALIDATION', 'lone surrogate')
  t.equal(await send(`${'y'.repeat(1500)}\u0007`), 'E_VALIDATION', 'a long text (checked on the pool) with a control character')
  t.equal(await send(7), 'E_VALIDATION', 'text not a string')
  t.equal(await code('message:send', { room: 'not-joined', text: 'hi', clientMsgId: 'short' }), 'E_VALIDATION', 'bad clientMsgId')
  t.equal(await code('message:send', { room: 'not-joined', text: 'hi' }), 'E_VALIDATION', 'no clientMsgId')
  t.equal(await send('a fine message'), 'E_NOT_MEMBER', 'valid, but not joined')
  t.equal(await send('y'.repeat(1500)), 'E_NOT_MEMBER', 'a valid long text, not joined')

  t.equal(await code('history', { room: 'not-joined', limit: 0 }), 'E_VALIDATION', 'history: bad limit')
  t.equal(await code('history', { room: 'not-joined', before: -1 }), 'E_VALIDATION', 'history: bad before')
  t.equal(await code('history', { room: 'not-joined' }), 'E_NOT_MEMBER', 'history: valid, not joined')
  t.equal(await code('typing', { room: 'not-joined', typing: 'yes' }), 'E_VALIDATION', 'typing: not a boolean')
  t.equal(await code('typing', { room: 'not-joined' }), 'E_VALIDATION', 'typing: missing flag')
  t.equal(await code('typing', { room: 'not-joined', typing: true }), 'E_NOT_MEMBER', 'typing: valid, not joined')
  t.equal(await code('room:leave', { room: 'Not Valid' }), 'E_VALIDATION', 'leave: bad room')

  t.match(await request(socket, 'room:join', { room: 'joined' }), { ok: true })
  t.equal(await send('bell\u0007', 'joined'), 'E_VALIDATION', 'the same checks for a member')
  t.equal(await send('hello', 'joined'), 'ok')
})
