/**
 * The protocol's patterns and limits, free of any dependency so the browser bundle can import
 * them without zod. src/protocol/schemas.ts builds its schemas from these.
 */

export const ROOM_PATTERN = /^[a-z0-9][a-z0-9_-]{0,63}$/
export const USERNAME_PATTERN = /^[A-Za-z0-9_.-]{1,32}$/
export const CLIENT_MSG_ID_PATTERN = /^[A-Za-z0-9_-]{8,64}$/

/** Text limits, in Unicode code points after NFC normalization and trim. */
export const TEXT_MIN_CODE_POINTS = 1
export const TEXT_MAX_CODE_POINTS = 2000
/**
 * Raw UTF-16 length accepted before normalization: NFC can compose long decomposed input down to
 * 2000 code points, so the structural cap is generous, and the frame cap bounds it anyway.
 */
export const TEXT_MAX_RAW_UNITS = 16_000

export const HISTORY_DEFAULT_LIMIT = 50
export const HISTORY_MAX_LIMIT = 100
export const JOIN_RECENT_LIMIT = 50
export const JOIN_SINCE_LIMIT = 100

/**
 * Version 1.1: direct-message rooms are named `dm-` + a hash of their two userIds. The prefix is
 * reserved: `room:create` and a `room:join` that would create a room refuse such names.
 */
export const DIRECT_ROOM_PREFIX = 'dm-'
