import { ChatClient, ROOM_PATTERN, USERNAME_PATTERN, type ClientError, type ConnectionChange, type Member, type Message, type RoomInfo, type SendStatus } from '../client/index.js'
import { byId, element } from './dom.js'
import { describeError, describeWait } from './error-text.js'
import { MemberList, type MemberAction } from './member-list.js'
import { MessageList } from './message-list.js'
import { Notice } from './notice.js'
import { roomFromUrl, showRoomInUrl } from './room-url.js'
import { forgetSession, loadSession, saveSession } from './session-store.js'
import { TypingIndicator } from './typing-indicator.js'

/** The chat page: wires the client library to the views. Built by scripts/build-web.ts. */

const DEFAULT_ROOM = 'lobby'
/** Say "typing" again this often while typing goes on, and "stopped" after this long idle. */
const TYPING_REPEAT_MS = 2000
const TYPING_IDLE_MS = 3000

const view = {
  banner: byId('connection-banner', HTMLElement),
  signIn: byId('sign-in-view', HTMLElement),
  signInForm: byId('sign-in-form', HTMLFormElement),
  username: byId('username', HTMLInputElement),
  password: byId('password', HTMLInputElement),
  signUp: byId('sign-up', HTMLButtonElement),
  guest: byId('guest', HTMLButtonElement),
  signInError: byId('sign-in-error', HTMLElement),
  chat: byId('chat-view', HTMLElement),
  roomTitle: byId('room-title', HTMLElement),
  joinForm: byId('join-form', HTMLFormElement),
  roomInput: byId('room-input', HTMLInputElement),
  me: byId('me', HTMLElement),
  myId: byId('my-id', HTMLElement),
  roomKind: byId('room-kind', HTMLElement),
  inviteForm: byId('invite-form', HTMLFormElement),
  inviteInput: byId('invite-input', HTMLInputElement),
  rooms: byId('rooms', HTMLUListElement),
  createForm: byId('create-form', HTMLFormElement),
  createInput: byId('create-input', HTMLInputElement),
  createPrivate: byId('create-private', HTMLInputElement),
  signOut: byId('sign-out', HTMLButtonElement),
  log: byId('log', HTMLElement),
  olderButton: byId('load-older', HTMLButtonElement),
  messages: byId('messages', HTMLOListElement),
  members: byId('members', HTMLUListElement),
  typing: byId('typing', HTMLElement),
  notice: byId('notice', HTMLElement),
  sendForm: byId('send-form', HTMLFormElement),
  messageInput: byId('message-input', HTMLTextAreaElement),
  announcer: byId('announcer', HTMLElement)
}

const client = new ChatClient({ url: window.location.origin })
let room: string | undefined
/** The current room answered its first join: later messages are news worth announcing. */
let roomSynced = false
let typingSentAt = 0
let typingIdleTimer: ReturnType<typeof setTimeout> | undefined

const me = (): Member | undefined => client.session === undefined ? undefined : { userId: client.session.userId, username: client.session.username }
const notice = new Notice(view.notice)
const typing = new TypingIndicator(view.typing)
const members = new MemberList(view.members, me, (action, member) => { void moderate(action, member) })
/** The current room's roles and kind, as its last join or role change said. */
let roomInfo: RoomInfo = { staff: [], direct: false }
const messages = new MessageList({
  log: view.log,
  list: view.messages,
  olderButton: view.olderButton,
  me,
  retry: (status) => { void client.send(status.room, status.text, { clientMsgId: status.clientMsgId }) },
  loadOlder: async () => {
    const current = room
    if (current === undefined) return false
    try {
      const page = await client.loadOlder(current)
      if (current === room) messages.prepend(page.messages)
      return page.hasMore
    } catch (error) {
      notice.show(`Older messages did not load: ${describeError(error as ClientError)}`)
      return true
    }
  },
  canDelete: (message: Message) => message.userId === me()?.userId || roomInfo.role === 'owner' || roomInfo.role === 'moderator',
  delete: (message: Message) => { void deleteMessage(message) }
})

client.on('session', saveSession)
client.on('state', showConnection)
client.on('message', (message) => {
  if (message.room !== room) return
  messages.append(message)
  if (roomSynced && message.userId !== me()?.userId) view.announcer.textContent = `${message.username}: ${message.text}`
})
client.on('synced', (event) => {
  if (event.room !== room) return
  members.reset(event.members)
  showRoomInfo(event.info)
  void refreshRooms()
  if (roomSynced) return
  roomSynced = true
  messages.setHasOlder((messages.oldestSeq ?? 1) > 1)
  messages.scrollToEnd()
})
client.on('presence', (event) => { if (event.room === room) members.presence(event) })
client.on('typing', (event) => { if (event.room === room && event.userId !== me()?.userId) typing.update(event) })
client.on('send', showSend)
client.on('removed', (event) => {
  void refreshRooms()
  if (event.room !== room) return
  const what = event.reason === 'banned' ? 'banned from' : 'removed from'
  messages.clear()
  members.clear()
  showRoomInfo({ staff: [], direct: false })
  notice.show(`You were ${what} #${event.room} by a moderator.`)
  // Out of the room: joining it again (allowed after a kick from a public room) starts afresh.
  room = undefined
  view.announcer.textContent = `You were ${what} #${event.room}.`
})
client.on('deleted', (event) => { if (event.room === room) messages.markDeleted(event.seq) })
client.on('role', (event) => {
  if (event.room !== room) return
  const info = client.roomInfo(event.room)
  if (info !== undefined) showRoomInfo(info)
})
client.on('error', (error) => {
  if (error.code === 'E_UNAUTHORIZED') signOut()
  else notice.show(error.room === undefined ? describeError(error) : `#${error.room}: ${describeError(error)}`)
})

view.signInForm.addEventListener('submit', (event) => {
  event.preventDefault()
  void signIn('sign-in')
})
view.signUp.addEventListener('click', () => { void signIn('sign-up') })
view.guest.addEventListener('click', () => { void signIn('guest') })
view.inviteForm.addEventListener('submit', (event) => {
  event.preventDefault()
  void invite(view.inviteInput.value.trim())
})
view.createForm.addEventListener('submit', (event) => {
  event.preventDefault()
  void createRoom(view.createInput.value.trim().toLowerCase(), view.createPrivate.checked)
})
view.joinForm.addEventListener('submit', (event) => {
  event.preventDefault()
  const name = view.roomInput.value.trim().toLowerCase()
  if (!ROOM_PATTERN.test(name)) {
    view.roomInput.setAttribute('aria-invalid', 'true')
    notice.show('Room names are 1–64 lowercase letters, digits, dashes or underscores, starting with a letter or digit.')
    return
  }
  view.roomInput.removeAttribute('aria-invalid')
  view.roomInput.value = ''
  void joinRoom(name)
  view.messageInput.focus()
})
view.sendForm.addEventListener('submit', (event) => {
  event.preventDefault()
  send()
})
view.messageInput.addEventListener('keydown', (event) => {
  if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
    event.preventDefault()
    view.sendForm.requestSubmit()
  }
})
view.messageInput.addEventListener('input', noteTyping)
view.signOut.addEventListener('click', signOut)

const stored = loadSession()
if (stored === undefined) {
  view.signIn.hidden = false
  view.username.focus()
} else {
  client.useSession(stored)
  enterChat()
}

/** Signs in (with the password when one is given), creates an account first, or joins as a guest. */
async function signIn (how: 'sign-in' | 'sign-up' | 'guest'): Promise<void> {
  const username = view.username.value.trim()
  const password = how === 'guest' ? '' : view.password.value
  if (!USERNAME_PATTERN.test(username)) {
    view.username.setAttribute('aria-invalid', 'true')
    view.signInError.textContent = 'Usernames are 1–32 letters, digits, dots, dashes or underscores.'
    view.username.focus()
    return
  }
  view.username.removeAttribute('aria-invalid')
  if (how === 'sign-up' && (password.length < 8 || password.length > 128)) {
    view.password.setAttribute('aria-invalid', 'true')
    view.signInError.textContent = 'An account needs a password of 8 to 128 characters.'
    view.password.focus()
    return
  }
  view.password.removeAttribute('aria-invalid')
  view.signInError.textContent = ''
  const buttons = [...view.signInForm.querySelectorAll('button')]
  for (const button of buttons) button.disabled = true
  try {
    if (how === 'sign-up') await client.signUp(username, password)
    await client.signIn(username, password === '' ? undefined : password)
    view.password.value = ''
    enterChat()
  } catch (error) {
    const failure = error as ClientError
    view.signInError.textContent = failure.code === 'E_CONFLICT' ? 'That username is taken.' : describeError(failure)
  } finally {
    for (const button of buttons) button.disabled = false
  }
}

function enterChat (): void {
  view.signIn.hidden = true
  view.chat.hidden = false
  view.me.textContent = client.session?.username ?? ''
  view.myId.textContent = client.session?.userId ?? ''
  client.connect()
  void refreshRooms()
  void joinRoom(roomFromUrl(window.location) ?? DEFAULT_ROOM)
  view.messageInput.focus()
}

async function joinRoom (name: string): Promise<void> {
  if (name === room) return
  const previous = room
  room = name
  roomSynced = false
  stopTyping(previous)
  messages.clear()
  members.clear()
  showRoomInfo({ staff: [], direct: false })
  typing.clear()
  notice.clear()
  view.roomTitle.textContent = name
  document.title = `#${name} · Chat`
  showRoomInUrl(name)
  if (previous !== undefined) void client.leave(previous)
  try {
    await client.join(name)
  } catch (error) {
    notice.show(`Cannot join #${name}: ${describeError(error as ClientError)}`)
    // Not in it: asking again (after an invitation, an unban) must try again.
    if (room === name) room = undefined
  }
}

/** The room's kind, this user's role and what it allows, shown around the member list. */
function showRoomInfo (info: RoomInfo): void {
  roomInfo = info
  members.setInfo(info)
  messages.refreshActions()
  const staff = info.role === 'owner' || info.role === 'moderator'
  view.inviteForm.hidden = !staff || info.direct
  const kind = info.direct ? 'Direct messages' : info.visibility === 'private' ? 'Private room' : info.visibility === 'public' ? 'Public room' : ''
  view.roomKind.textContent = kind === '' ? '' : info.role === undefined || info.role === 'member' ? kind : `${kind} · you are ${info.role}`
  for (const button of view.rooms.querySelectorAll('button')) button.setAttribute('aria-current', String(button.dataset.room === room))
}

/** The user's rooms (GET /api/rooms) as buttons that open them. */
async function refreshRooms (): Promise<void> {
  let list
  try {
    list = await client.listRooms()
  } catch {
    return
  }
  view.rooms.replaceChildren(...list.map((entry) => {
    const item = element('li')
    const button = element('button', '', entry.direct ? `✉ ${entry.room.slice(0, 12)}…` : `#${entry.room}`)
    button.type = 'button'
    button.dataset.room = entry.room
    button.setAttribute('aria-current', String(entry.room === room))
    const kind = entry.direct ? 'direct messages' : entry.visibility
    button.setAttribute('aria-label', `Open ${entry.direct ? 'direct messages' : `#${entry.room}`} (${kind}, ${entry.role})`)
    button.addEventListener('click', () => { void joinRoom(entry.room) })
    item.append(button)
    return item
  }))
}

async function createRoom (name: string, private_: boolean): Promise<void> {
  if (!ROOM_PATTERN.test(name)) {
    view.createInput.setAttribute('aria-invalid', 'true')
    notice.show('Room names are 1–64 lowercase letters, digits, dashes or underscores, starting with a letter or digit.')
    return
  }
  view.createInput.removeAttribute('aria-invalid')
  try {
    await client.createRoom(name, private_ ? 'private' : 'public')
    view.createInput.value = ''
    view.createPrivate.checked = false
    await joinRoom(name)
  } catch (error) {
    const failure = error as ClientError
    notice.show(failure.code === 'E_CONFLICT' ? `#${name} exists already.` : `Cannot create #${name}: ${describeError(failure)}`)
  }
}

async function invite (userId: string): Promise<void> {
  if (room === undefined || userId === '') return
  try {
    await client.invite(room, userId)
    view.inviteInput.value = ''
    notice.info(`Invited ${userId} to #${room}.`)
  } catch (error) {
    notice.show(`Invitation not sent: ${describeError(error as ClientError)}`)
  }
}

async function moderate (action: MemberAction, member: Member): Promise<void> {
  const current = room
  if (current === undefined) return
  try {
    if (action === 'message') {
      await joinRoom(await client.openDirect(member.userId))
      return
    }
    if (action === 'kick') await client.kick(current, member.userId)
    else if (action === 'ban') await client.ban(current, member.userId)
    else await client.setRole(current, member.userId, action === 'promote' ? 'moderator' : 'member')
    const done = { kick: 'was kicked', ban: 'was banned', promote: 'is now a moderator', demote: 'is no longer a moderator' }[action]
    notice.info(`${member.username} ${done}.`)
  } catch (error) {
    notice.show(describeError(error as ClientError))
  }
}

async function deleteMessage (message: Message): Promise<void> {
  try {
    await client.deleteMessage(message.room, message.id)
  } catch (error) {
    notice.show(`Not deleted: ${describeError(error as ClientError)}`)
  }
}

function send (): void {
  const text = view.messageInput.value
  if (room === undefined || text.trim() === '') return
  view.messageInput.value = ''
  stopTyping(room)
  void client.send(room, text)
}

function showSend (status: SendStatus): void {
  if (status.room !== room) return
  messages.showSend(status)
  if (status.state === 'pending' && status.error !== undefined && status.retryInMs !== undefined && status.retryInMs > 0) {
    const { error } = status
    notice.countdown(status.retryInMs, (seconds) => describeWait(error, seconds))
  } else if (status.state === 'failed') {
    notice.show(describeError(status.error))
  } else if (status.state === 'delivered') {
    notice.clear()
  }
}

function showConnection (change: ConnectionChange): void {
  document.body.dataset.connection = change.state
  const text = change.state === 'reconnecting'
    ? 'Connection lost. Reconnecting… Messages sent meanwhile will appear once back online.'
    : change.state === 'offline' && room !== undefined ? 'Disconnected.' : ''
  view.banner.textContent = text
  view.banner.hidden = text === ''
}

function noteTyping (): void {
  if (room === undefined) return
  if (view.messageInput.value.trim() === '') {
    stopTyping(room)
    return
  }
  const now = Date.now()
  if (now - typingSentAt > TYPING_REPEAT_MS) {
    client.setTyping(room, true)
    typingSentAt = now
  }
  clearTimeout(typingIdleTimer)
  typingIdleTimer = setTimeout(() => stopTyping(room), TYPING_IDLE_MS)
}

function stopTyping (inRoom: string | undefined): void {
  clearTimeout(typingIdleTimer)
  if (typingSentAt !== 0 && inRoom !== undefined) client.setTyping(inRoom, false)
  typingSentAt = 0
}

function signOut (): void {
  client.close()
  forgetSession()
  // A fresh page: sign-in form, and the room still in the address.
  window.location.reload()
}
