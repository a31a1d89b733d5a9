import { ChatClient, ROOM_PATTERN, USERNAME_PATTERN, type ClientError, type ConnectionChange, type Member, type SendStatus } from '../client/index.js'
import { byId } from './dom.js'
import { describeError, describeWait } from './error-text.js'
import { MemberList } from './member-list.js'
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
  signInError: byId('sign-in-error', HTMLElement),
  chat: byId('chat-view', HTMLElement),
  roomTitle: byId('room-title', HTMLElement),
  joinForm: byId('join-form', HTMLFormElement),
  roomInput: byId('room-input', HTMLInputElement),
  me: byId('me', HTMLElement),
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
const members = new MemberList(view.members, me)
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
  }
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
  if (roomSynced) return
  roomSynced = true
  messages.setHasOlder((messages.oldestSeq ?? 1) > 1)
  messages.scrollToEnd()
})
client.on('presence', (event) => { if (event.room === room) members.presence(event) })
client.on('typing', (event) => { if (event.room === room && event.userId !== me()?.userId) typing.update(event) })
client.on('send', showSend)
client.on('error', (error) => {
  if (error.code === 'E_UNAUTHORIZED') signOut()
  else notice.show(error.room === undefined ? describeError(error) : `#${error.room}: ${describeError(error)}`)
})

view.signInForm.addEventListener('submit', (event) => {
  event.preventDefault()
  void signIn(view.username.value.trim())
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

async function signIn (username: string): Promise<void> {
  if (!USERNAME_PATTERN.test(username)) {
    view.username.setAttribute('aria-invalid', 'true')
    view.signInError.textContent = 'Usernames are 1–32 letters, digits, dots, dashes or underscores.'
    view.username.focus()
    return
  }
  view.username.removeAttribute('aria-invalid')
  view.signInError.textContent = ''
  const button = view.signInForm.querySelector('button')
  if (button !== null) button.disabled = true
  try {
    await client.signIn(username)
    enterChat()
  } catch (error) {
    view.signInError.textContent = describeError(error as ClientError)
  } finally {
    if (button !== null) button.disabled = false
  }
}

function enterChat (): void {
  view.signIn.hidden = true
  view.chat.hidden = false
  view.me.textContent = client.session?.username ?? ''
  client.connect()
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
