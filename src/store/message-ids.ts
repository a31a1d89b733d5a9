import { randomBytes } from 'node:crypto'

/** A message id: a UUIDv7, time-ordered, so message ids sort roughly by creation (both store writers). */
export function uuidv7 (ts: number): string {
  const bytes = randomBytes(16)
  bytes.writeUIntBE(ts, 0, 6)
  bytes[6] = ((bytes[6] as number) & 0x0f) | 0x70
  bytes[8] = ((bytes[8] as number) & 0x3f) | 0x80
  const hex = bytes.toString('hex')
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`
}
