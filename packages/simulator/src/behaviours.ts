/** Every way the simulator can treat one recharge order (README.md has the table). */
export const BEHAVIOURS = [
  'success',
  'failure',
  'pending_then_success',
  'pending_then_failure',
  'reversal_after_success',
  'slow',
  'timeout',
  'garbage',
  'html',
  'empty',
  'server_error',
  'reset',
  'oversize',
  'trickle',
] as const;
export type Behaviour = (typeof BEHAVIOURS)[number];

/**
 * What the provider really did for behaviours whose answer is lost or mangled (`slow`, `timeout`,
 * `garbage`, ...). Defaults to `success`: the dangerous case, where money left but the caller does
 * not know it.
 */
export const OUTCOMES = ['success', 'failure', 'pending'] as const;
export type Outcome = (typeof OUTCOMES)[number];

/**
 * Magic amounts (whole rupees) for demos: an order with one of these amounts gets the behaviour
 * without any script. Primes, so that ordinary round amounts (10, 20, 50, 100...) stay plain successes.
 */
export const MAGIC_AMOUNTS: Readonly<Record<number, Behaviour>> = {
  13: 'failure',
  17: 'pending_then_success',
  19: 'pending_then_failure',
  23: 'reversal_after_success',
  29: 'slow',
  31: 'timeout',
  37: 'garbage',
  41: 'html',
  43: 'empty',
  47: 'server_error',
  53: 'reset',
  59: 'oversize',
  71: 'trickle',
};

/** The behaviour for an amount in paise, when it is a magic amount. */
export function magicBehaviour(amountPaise: number): Behaviour | undefined {
  if (amountPaise % 100 !== 0) return undefined;
  return MAGIC_AMOUNTS[amountPaise / 100];
}
