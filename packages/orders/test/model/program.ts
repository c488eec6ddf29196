import fc from 'fast-check';

/**
 * A run's program: the orders, the settings, and a list of steps. A step names what happens next
 * (`kind`) and two small numbers: `pick` chooses among the candidates at that moment (modulo their
 * count; no candidate = the step does nothing) and `choice` says how (which answer, which fate).
 * Steps that depend on the state this way shrink well: dropping one leaves the others meaningful.
 */

export const STEP_KINDS = [
  /** Start a run of a waiting recharge job. */
  'run',
  /** Let one parked task go one step (a provider call: decide its outcome, or hand the answer back). */
  'advance',
  /** Let one parked task go on through its ledger and queue calls, up to its next provider call or its end. */
  'proceed',
  /** Kill a task (a process crash); a job run's job goes back to waiting or is lost. */
  'crash',
  /** Redeliver an active job while its run is still going (lock lost): a second run of it. */
  'stall',
  /** Deliver a callback from the outbox (record + apply), maybe keeping a duplicate for later. */
  'deliver',
  /** Forge a callback that contradicts a provider's books. */
  'forge',
  /** The provider sends a callback again (a new opid), e.g. long after the order moved on. */
  'resend',
  /** A provider finishes an order it was processing (or a crashed call's request arrives/is lost). */
  'decide',
  /** Check the status of a pending order. */
  'status',
  /** The stuck-processing sweep (older than 0 ms). */
  'sweep',
  /** The stranded-queued sweep (older than 0 ms). */
  'requeue',
  /** An operator resolves an order in manual_review, as the providers' books say. */
  'operator',
  /** A callback job that asked to be retried runs again. */
  'retry_callback',
  /** The queue refuses the next add. */
  'queue_down',
] as const;
export type StepKind = (typeof STEP_KINDS)[number];

export interface Step {
  readonly kind: StepKind;
  readonly pick: number;
  readonly choice: number;
}

export interface OrderSpec {
  /** `true`: route a1topup then a1topup_backup (failover); else a1topup only. */
  readonly failover: boolean;
  /** The job add at submission fails (the stranded sweep must find the order). */
  readonly enqueueLost: boolean;
}

export interface RunSettings {
  /** Status checks: a pending answer sends the order to a person at once (0) or never (1 h). */
  readonly maxPendingAgeMs: 0 | 3_600_000;
  readonly notFoundAfterGrace: 'failed' | 'manual_review';
  /** How long callbacks the status API does not confirm are asked about again. */
  readonly confirmWindowMs: 0 | 3_600_000;
}

export interface Program {
  readonly orders: readonly OrderSpec[];
  readonly settings: RunSettings;
  readonly steps: readonly Step[];
  /** Seeds the settle phase's own choices. */
  readonly salt: number;
}

const WEIGHTS: Readonly<Record<StepKind, number>> = {
  run: 4,
  advance: 14,
  proceed: 4,
  crash: 1,
  stall: 1,
  deliver: 4,
  forge: 1,
  resend: 1,
  decide: 1,
  status: 2,
  sweep: 1,
  requeue: 1,
  operator: 1,
  retry_callback: 1,
  queue_down: 1,
};

function stepArb(off: ReadonlySet<StepKind>): fc.Arbitrary<Step> {
  const kinds = STEP_KINDS.filter((kind) => !off.has(kind));
  if (kinds.length === 0) throw new Error('every step kind is switched off');
  return fc.record({
    kind: fc.oneof(...kinds.map((kind) => ({ arbitrary: fc.constant(kind), weight: WEIGHTS[kind] }))),
    pick: fc.nat({ max: 7 }),
    choice: fc.nat({ max: 63 }),
  });
}

const orderArb: fc.Arbitrary<OrderSpec> = fc.record({
  failover: fc.boolean(),
  enqueueLost: fc.oneof({ arbitrary: fc.constant(false), weight: 6 }, fc.constant(true)),
});

/** `off`: step kinds never generated (to look past one known bug for the next). */
export function programArb(maxSteps: number, off: ReadonlySet<StepKind> = new Set()): fc.Arbitrary<Program> {
  return fc.record({
    // Mostly one order (the races are between one order's actors), sometimes two or three; an
    // array under a map shrinks to fewer orders.
    orders: fc
      .tuple(
        orderArb,
        fc.oneof(
          { arbitrary: fc.array(orderArb, { maxLength: 1, size: 'xsmall' }), weight: 9 },
          fc.array(orderArb, { minLength: 2, maxLength: 2 }),
        ),
      )
      .map(([first, more]) => [first, ...more]),
    settings: fc.record({
      maxPendingAgeMs: fc.constantFrom(3_600_000 as const, 0 as const),
      notFoundAfterGrace: fc.constantFrom('failed' as const, 'manual_review' as const),
      confirmWindowMs: fc.constantFrom(3_600_000 as const, 0 as const),
    }),
    steps: fc.array(stepArb(off), { maxLength: maxSteps, size: 'max' }),
    salt: fc.nat(),
  });
}
