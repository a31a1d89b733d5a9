import { ROOM_PATTERN } from '../client/index.js'

/** The room lives in the address (`/?room=lobby`, or `/#lobby`), so a link opens it. */

export function roomFromUrl (location: Location): string | undefined {
  const candidate = new URLSearchParams(location.search).get('room') ?? new URLSearchParams(`room=${location.hash.slice(1)}`).get('room') ?? ''
  const room = candidate.trim().toLowerCase()
  return ROOM_PATTERN.test(room) ? room : undefined
}

export function showRoomInUrl (room: string): void {
  const url = new URL(window.location.href)
  url.hash = ''
  url.searchParams.set('room', room)
  history.replaceState(null, '', url)
}
