import { describe } from 'vitest';
import type { LiveFixture } from './fixtures.ts';
import { orderCreationContract } from './orders/creation.ts';
import { orderFailoverContract } from './orders/failover.ts';
import { orderQueryContract } from './orders/queries.ts';
import { orderStatusCheckContract } from './orders/status-checks.ts';
import { orderTransitionContract } from './orders/transitions.ts';

/** The orders slice of the contract: OrderStore, in parts (orders/). */
export function orderContract(live: LiveFixture): void {
  describe('orders', () => {
    orderCreationContract(live);
    orderFailoverContract(live);
    orderTransitionContract(live);
    orderQueryContract(live);
    orderStatusCheckContract(live);
  });
}
