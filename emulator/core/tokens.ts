import { createHmac, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import type { Clock, TokenClaims, TokenService } from './contract.js';

const b64url = (data: Buffer | string): string => Buffer.from(data).toString('base64url');

/** Compares audiences the way clients write them: with or without a trailing slash, any case. */
export const normalizeAudience = (aud: string): string => aud.trim().replace(/\/+$/, '').toLowerCase();

/**
 * JWTs signed with HS256 by a key generated at start: only the emulator reads them back.
 * Lifetime follows the emulator clock, so advancing it expires tokens.
 */
export class EmulatorTokens implements TokenService {
  private readonly key = randomBytes(32);

  constructor(
    private readonly clock: Clock,
    private readonly issuer: string,
  ) {}

  issue(claims: Omit<TokenClaims, 'exp' | 'iat'> & { lifetimeSeconds?: number }): { token: string; expiresOn: number } {
    const { lifetimeSeconds = 3600, ...rest } = claims;
    const iat = Math.floor(this.clock.now().getTime() / 1000);
    const exp = iat + lifetimeSeconds;
    const payload = { ...rest, iss: `${this.issuer}/${rest.tid}/v2.0`, sub: rest.oid, iat, nbf: iat, exp, uti: randomUUID() };
    const head = b64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }));
    const body = b64url(JSON.stringify(payload));
    const sig = createHmac('sha256', this.key).update(`${head}.${body}`).digest('base64url');
    return { token: `${head}.${body}.${sig}`, expiresOn: exp };
  }

  /** Checks signature and shape only (no audience or expiry): used to key throttling by principal. */
  peek(authorization: string | undefined): TokenClaims | undefined {
    const match = /^Bearer\s+([\w-]+)\.([\w-]+)\.([\w-]+)$/i.exec(authorization?.trim() ?? '');
    if (!match) return undefined;
    const [, head, body, sig] = match as unknown as [string, string, string, string];
    const expected = createHmac('sha256', this.key).update(`${head}.${body}`).digest();
    const actual = Buffer.from(sig, 'base64url');
    if (actual.length !== expected.length || !timingSafeEqual(actual, expected)) return undefined;
    try {
      const claims = JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as TokenClaims;
      return typeof claims.oid === 'string' && typeof claims.aud === 'string' ? claims : undefined;
    } catch {
      return undefined;
    }
  }

  verify(authorization: string | undefined, audiences: readonly string[]): TokenClaims | undefined {
    const claims = this.peek(authorization);
    if (!claims) return undefined;
    if (claims.exp <= Math.floor(this.clock.now().getTime() / 1000)) return undefined;
    const aud = normalizeAudience(claims.aud);
    return audiences.some((a) => normalizeAudience(a) === aud) ? claims : undefined;
  }
}
