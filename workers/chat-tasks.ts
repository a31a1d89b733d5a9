import { readFileSync } from 'node:fs'
import { workerData } from 'node:worker_threads'
import type { Message } from '../src/protocol/schemas.js'
import { createTextChecker, type MessageTextResult } from '../src/text/check-message.js'
import type { ChatPoolData } from '../src/pool/chat-pool.js'

/**
 * Pool tasks of a Socket.IO worker: plain data in, plain data out. The term list is read once
 * per thread, from the file the worker process was configured with.
 */

const { termsFile, policy } = workerData as ChatPoolData
const checker = createTextChecker(policy === 'off' ? '' : readFileSync(termsFile, 'utf8'), policy)

/** Validates (NFC, trim, length, control and bidi characters) and moderates one message text. */
export function checkText (text: string): MessageTextResult {
  return checker(text)
}

/** Serializes a page of messages to JSON off the event loop (spliced into the ack by the encoder). */
export function serializeMessages (messages: Message[]): string {
  return JSON.stringify(messages)
}
