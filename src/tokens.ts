import { createHash, createPublicKey, randomUUID } from 'node:crypto'
import { createDecoder, createSigner, createVerifier, type Algorithm } from 'fast-jwt'
import { ChatError } from './errors.js'
import type { RevocationList } from './revocations.js'

/**
 * Identity tokens: JWTs with `sub` = userId, `name` = username, `iat`, `exp` and `jti`. Tokens
 * this server issues are HS256, signed with JWT_SECRET (no `kid`) or with the JWT_KEYS secret
 * named by JWT_KID. Verification picks the key by the token's `kid`: none → JWT_SECRET (HS256),
 * a JWT_KEYS secret → HS256, a JWT_KEYS PEM public key → the one algorithm its type allows
 * (RS256, ES256, EdDSA), so an app backend can mint tokens without sharing a secret. Never
 * `alg: none`, never an algorithm the key was not made for. Issuer and audience are checked
 * when configured; a revoked token is refused like a forged one.
 */

export interface Identity {
  userId: string
  username: string
  /** Expiry, epoch milliseconds. */
  expiresAtMs: number
  /** What a revocation names: the token's `jti`, or a hash of the token when it has none. */
  revocationKey: string
}

export interface Tokens {
  issue: (userId: string, username: string) => { token: string, expiresAt: string, expiresAtMs: number }
  /** Verifies a token; throws ChatError E_UNAUTHORIZED for anything missing, forged, expired, revoked or malformed. */
  verify: (token: unknown) => Identity
  /** Whether a verified token (by its Identity.revocationKey) has been revoked since. */
  revoked: (revocationKey: string) => boolean
}

export interface TokenOptions {
  secret: string
  ttlSeconds: number
  /** Further verification keys by `kid`: HS256 secrets or PEM public keys. */
  keys?: Readonly<Record<string, string>>
  /** The `kid` of the `keys` secret that signs; JWT_SECRET (no `kid`) when absent. */
  signingKid?: string | undefined
  issuer?: string | undefined
  audience?: string | undefined
  revocations?: RevocationList
}

type Verify = (token: string) => { sub?: unknown, name?: unknown, exp?: unknown, jti?: unknown }

const MAX_TOKEN_LENGTH = 8192

/** The algorithm a PEM public key may verify, from its type (never chosen by the token). */
function publicKeyAlgorithm (pem: string): Algorithm {
  const key = createPublicKey(pem)
  switch (key.asymmetricKeyType) {
    case 'rsa': return 'RS256'
    case 'rsa-pss': return 'PS256'
    case 'ed25519': return 'EdDSA'
    case 'ec': {
      const curve = key.asymmetricKeyDetails?.namedCurve
      if (curve === 'prime256v1') return 'ES256'
      if (curve === 'secp384r1') return 'ES384'
      if (curve === 'secp521r1') return 'ES512'
      throw new Error(`unsupported EC curve ${String(curve)}`)
    }
    default: throw new Error(`unsupported public key type ${String(key.asymmetricKeyType)}`)
  }
}

export function createTokens (options: TokenOptions): Tokens {
  // Configured issuer and audience are required, not merely checked when present.
  const required = [...(options.issuer === undefined ? [] : ['iss']), ...(options.audience === undefined ? [] : ['aud'])]
  const claims = {
    ...(options.issuer === undefined ? {} : { allowedIss: options.issuer }),
    ...(options.audience === undefined ? {} : { allowedAud: options.audience }),
    ...(required.length === 0 ? {} : { requiredClaims: required })
  }
  const verifier = (key: string, algorithm: Algorithm): Verify =>
    createVerifier({ key, algorithms: [algorithm], cache: 10_000, ...claims }) as Verify
  const byKid = new Map<string, Verify>()
  for (const [kid, key] of Object.entries(options.keys ?? {})) {
    byKid.set(kid, key.startsWith('-----BEGIN') ? verifier(key, publicKeyAlgorithm(key)) : verifier(key, 'HS256'))
  }
  const withoutKid = verifier(options.secret, 'HS256')
  const signingKey = options.signingKid === undefined ? options.secret : options.keys?.[options.signingKid]
  if (signingKey === undefined) throw new Error(`no signing key ${String(options.signingKid)}`)
  const sign = createSigner({
    key: signingKey,
    algorithm: 'HS256',
    expiresIn: options.ttlSeconds * 1000,
    ...(options.signingKid === undefined ? {} : { kid: options.signingKid }),
    ...(options.issuer === undefined ? {} : { iss: options.issuer }),
    ...(options.audience === undefined ? {} : { aud: options.audience })
  })
  const decodeHeader = createDecoder({ complete: true }) as (token: string) => { header: { kid?: unknown } }

  const verify = (token: unknown): Identity => {
    if (typeof token !== 'string' || token.length === 0 || token.length > MAX_TOKEN_LENGTH) {
      throw new ChatError('E_UNAUTHORIZED', 'a token is required')
    }
    let payload: ReturnType<Verify>
    try {
      const kid = decodeHeader(token).header.kid
      const verifyJwt = kid === undefined ? withoutKid : typeof kid === 'string' ? byKid.get(kid) : undefined
      if (verifyJwt === undefined) throw new ChatError('E_UNAUTHORIZED', 'unknown key id')
      payload = verifyJwt(token)
    } catch (error) {
      if (error instanceof ChatError) throw error
      const code = (error as { code?: string }).code
      throw new ChatError('E_UNAUTHORIZED', code === 'FAST_JWT_EXPIRED' ? 'token expired' : 'invalid token')
    }
    if (typeof payload.sub !== 'string' || typeof payload.name !== 'string' || typeof payload.exp !== 'number' ||
      (payload.jti !== undefined && typeof payload.jti !== 'string')) {
      throw new ChatError('E_UNAUTHORIZED', 'token lacks sub, name or exp')
    }
    const revocationKey = typeof payload.jti === 'string' && payload.jti.length > 0
      ? `jti:${payload.jti}`
      : `sha256:${createHash('sha256').update(token).digest('base64url')}`
    if (options.revocations?.has(revocationKey) === true) throw new ChatError('E_UNAUTHORIZED', 'token revoked')
    return { userId: payload.sub, username: payload.name, expiresAtMs: payload.exp * 1000, revocationKey }
  }

  return {
    issue (userId, username) {
      const token = sign({ sub: userId, name: username, jti: randomUUID() })
      const { expiresAtMs } = verify(token)
      return { token, expiresAt: new Date(expiresAtMs).toISOString(), expiresAtMs }
    },
    verify,
    revoked: (revocationKey) => options.revocations?.has(revocationKey) === true
  }
}
