import { z } from 'zod';

/** Every way the Telgoo5 stand-in can treat one valid add_topup (README.md has the table). */
export const TELGOO5_BEHAVIOURS = [
  'success',
  'failure',
  'token_rejected',
  'slow',
  'timeout',
  'garbage',
  'html',
  'empty',
  'server_error',
  'reset',
  'oversize',
  'unknown_code',
  'trickle',
] as const;
export type Telgoo5Behaviour = (typeof TELGOO5_BEHAVIOURS)[number];

/**
 * Magic amounts in whole dollars, reusing the A1Topup numbers where they mean the same. Every fault
 * from `slow` on APPLIES the top-up first: the dangerous case, money gone and the answer lost.
 */
export const TELGOO5_MAGIC_AMOUNTS: Readonly<Record<number, Telgoo5Behaviour>> = {
  13: 'failure',
  29: 'slow',
  31: 'timeout',
  37: 'garbage',
  41: 'html',
  43: 'empty',
  47: 'server_error',
  53: 'reset',
  59: 'oversize',
  61: 'token_rejected',
  67: 'unknown_code',
  71: 'trickle',
};

/** The behaviour for an amount in cents, when it is a magic amount. */
export function telgoo5MagicBehaviour(amountCents: number): Telgoo5Behaviour | undefined {
  if (amountCents % 100 !== 0) return undefined;
  return TELGOO5_MAGIC_AMOUNTS[amountCents / 100];
}

/** What the stand-in accepts; everything else is refused like the real API refuses it. */
export interface Telgoo5Credentials {
  readonly vendorId: string;
  readonly username: string;
  readonly password: string;
  readonly pin: string;
  /** Agents (`agent_id`) the vendor has; any other is `RESTAPI104 Invalid Agent Id`. */
  readonly agentIds: readonly string[];
  /** Request header that carries the token (default `token`). */
  readonly tokenHeader: string;
  /** `source` values allowed (the document: WEBSITE, API, TABLET); any other is `RESTAPI103`. */
  readonly sources: readonly string[];
}

export const DEFAULT_TELGOO5_CREDENTIALS: Telgoo5Credentials = {
  vendorId: 'demo-vendor',
  username: 'demo',
  password: 'demo-password',
  pin: '1234',
  agentIds: ['demo-agent'],
  tokenHeader: 'token',
  sources: ['WEBSITE', 'API', 'TABLET'],
};

/** `POST /_sim/telgoo5/script`: how to treat the next top-up(s) for an MDN. */
export const telgoo5ScriptSchema = z
  .object({
    mdn: z.string().regex(/^\d{10}$/, 'must be a 10-digit MDN'),
    behaviour: z.enum(TELGOO5_BEHAVIOURS),
    /** How many top-ups for this MDN it applies to (default 1). */
    times: z.number().int().min(1).max(1_000_000).optional(),
    /** `slow`: delay before answering (default `slowMs`). */
    delayMs: z.number().int().min(0).max(3_600_000).optional(),
  })
  .strict();
export type Telgoo5Script = z.infer<typeof telgoo5ScriptSchema>;

/** `POST /_sim/telgoo5/tokens/invalidate`: what the outstanding tokens answer from now on. */
export const telgoo5InvalidateSchema = z
  .object({ as: z.enum(['invalid', 'used', 'expired']).optional() })
  .strict();
export type Telgoo5Invalidate = z.infer<typeof telgoo5InvalidateSchema>;
