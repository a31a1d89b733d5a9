import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto'

/**
 * Password hashing with scrypt on libuv's thread pool (never on the event loop). A hash is
 * stored with its parameters and salt, `scrypt$N$r$p$salt$hash` (base64url), so the cost can
 * be raised later without invalidating stored hashes.
 */

const COST = 2 ** 15
const BLOCK_SIZE = 8
const PARALLELISM = 1
const KEY_LENGTH = 32
const SALT_LENGTH = 16
/** scrypt needs 128 · N · r bytes; leave room above it (Node's default cap is 32 MB). */
const MAX_MEMORY = 128 * 2 ** 16 * 16

function derive (password: string, salt: Buffer, options: ScryptOptions, length: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scrypt(password.normalize('NFC'), salt, length, { ...options, maxmem: MAX_MEMORY }, (error, key) => {
      if (error === null) resolve(key)
      else reject(error)
    })
  })
}

/** A new salted hash of the password, with its parameters. */
export async function hashPassword (password: string): Promise<string> {
  const salt = randomBytes(SALT_LENGTH)
  const key = await derive(password, salt, { N: COST, r: BLOCK_SIZE, p: PARALLELISM }, KEY_LENGTH)
  return ['scrypt', COST, BLOCK_SIZE, PARALLELISM, salt.toString('base64url'), key.toString('base64url')].join('$')
}

/** True when the password matches the stored hash (compared in constant time); false for a malformed hash. */
export async function verifyPassword (password: string, stored: string): Promise<boolean> {
  const [scheme, n, r, p, saltText, keyText] = stored.split('$')
  if (scheme !== 'scrypt' || saltText === undefined || keyText === undefined) return false
  const options = { N: Number(n), r: Number(r), p: Number(p) }
  if (!Object.values(options).every((value) => Number.isSafeInteger(value) && value > 0)) return false
  const expected = Buffer.from(keyText, 'base64url')
  if (expected.length === 0) return false
  const actual = await derive(password, Buffer.from(saltText, 'base64url'), options, expected.length)
  return timingSafeEqual(actual, expected)
}

let dummy: Promise<string> | undefined

/**
 * A hash of no real password, made once, for sign-ins to accounts that do not exist: verifying
 * against it costs what a real check costs, so timing does not tell which names are accounts.
 */
export function dummyHash (): Promise<string> {
  dummy ??= hashPassword(randomBytes(18).toString('base64url'))
  return dummy
}
