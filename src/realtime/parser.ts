import { randomBytes } from 'node:crypto'
import { Decoder, Encoder, PacketType, type Packet } from 'socket.io-parser'

/**
 * Socket.IO's own packet format with two changes, both invisible to clients:
 *
 * - Decoding: socket.io-parser throws on an EVENT whose JSON is broken or whose name is reserved,
 *   on a BINARY_EVENT whose attachment count is not 1–10, and on binary frames nobody announced,
 *   and Socket.IO answers a throw by closing the whole connection. Here such an event packet
 *   becomes the event INVALID_EVENT (with the packet's ack id), which the connection handler
 *   answers E_VALIDATION, and stray binary frames are dropped, so one bad payload never costs the
 *   client its connection (PROTOCOL.md).
 * - Encoding: an ack may carry PreEncodedJson values (a history page serialized on a pool
 *   thread); they are spliced into the packet text instead of being serialized again here.
 */

export const INVALID_EVENT = '\u0000invalid'

/** JSON produced elsewhere (a pool thread) to be placed verbatim into an ack. */
export class PreEncodedJson {
  constructor (readonly json: string) {}
}

const marker = `__pre_${randomBytes(8).toString('hex')}_`

function preEncodedValues (data: unknown): boolean {
  if (!Array.isArray(data) || data.length !== 1) return false
  const body = data[0] as unknown
  if (body === null || typeof body !== 'object') return false
  for (const value of Object.values(body)) if (value instanceof PreEncodedJson) return true
  return false
}

class ChatEncoder extends Encoder {
  override encode (packet: Packet): any[] {
    if (packet.type !== PacketType.ACK || !preEncodedValues(packet.data)) return super.encode(packet)
    const spliced: string[] = []
    const json = JSON.stringify(packet.data, (_key, value: unknown) => {
      if (!(value instanceof PreEncodedJson)) return value
      spliced.push(value.json)
      return `${marker}${spliced.length - 1}`
    })
    let text = json
    for (let i = 0; i < spliced.length; i++) text = text.replace(`"${marker}${i}"`, () => spliced[i] as string)
    let head = String(PacketType.ACK)
    if (packet.nsp !== undefined && packet.nsp !== '/') head += `${packet.nsp},`
    if (packet.id !== undefined && packet.id !== null) head += String(packet.id)
    return [head + text]
  }
}

interface Reconstructing { reconstructor?: { finishedReconstruction: () => void } | null }

class ChatDecoder extends Decoder {
  override add (chunk: any): void {
    const state = this as unknown as Reconstructing
    if (typeof chunk === 'string' && state.reconstructor !== undefined && state.reconstructor !== null) {
      // A text packet while binary attachments were announced: the binary event was short of
      // them. Drop it (its sender breaks the format) rather than the connection.
      state.reconstructor.finishedReconstruction()
      state.reconstructor = null
    }
    try {
      super.add(chunk)
    } catch (error) {
      if (typeof chunk !== 'string') {
        // Binary data nobody announced (after a refused BINARY_EVENT header): nothing to decode.
        if (state.reconstructor === undefined || state.reconstructor === null) return
        throw error
      }
      if (!this.#emitInvalid(chunk)) throw error
    }
  }

  /** Re-reads a rejected EVENT or BINARY_EVENT packet's namespace and ack id and emits it as INVALID_EVENT. */
  #emitInvalid (text: string): boolean {
    const type = text.charAt(0)
    if (type !== String(PacketType.EVENT) && type !== String(PacketType.BINARY_EVENT)) return false
    let i = 1
    if (type === String(PacketType.BINARY_EVENT)) {
      // The attachment count up to its '-' (when there is one within reach).
      const dash = text.indexOf('-', 1)
      if (dash !== -1 && dash <= 16) i = dash + 1
    }
    let nsp = '/'
    if (text.charAt(i) === '/') {
      const comma = text.indexOf(',', i)
      if (comma === -1) return false
      nsp = text.slice(i, comma)
      i = comma + 1
    }
    let digits = ''
    while (i < text.length && digits.length < 16 && text.charCodeAt(i) >= 48 && text.charCodeAt(i) <= 57) digits += text.charAt(i++)
    const packet: Packet = { type: PacketType.EVENT, nsp, data: [INVALID_EVENT] }
    if (digits !== '') packet.id = Number(digits)
    this.emitReserved('decoded', packet)
    return true
  }
}

/** The `parser` option of the Socket.IO server. */
export const chatParser = { Encoder: ChatEncoder, Decoder: ChatDecoder }
