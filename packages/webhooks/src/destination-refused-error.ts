import { RechargeflowError } from '@rechargeflow/domain';

/**
 * A webhook destination that resolves to an address webhooks may not reach (loopback, private,
 * link-local, unique-local, multicast, unspecified, reserved …) while WEBHOOK_ALLOW_PRIVATE is off.
 * Raised at registration (422) and at connect time, on the address the connection would use.
 */
export class DestinationRefusedError extends RechargeflowError {
  readonly code = 'RF_DESTINATION_REFUSED';
  readonly address: string;
  readonly range: string;

  constructor(host: string, address: string, range: string) {
    super(
      `${host === address ? address : `${host} resolves to ${address}`}, a ${range} address: webhooks may only reach public addresses (WEBHOOK_ALLOW_PRIVATE is off)`,
      { retryable: false, context: { range } },
    );
    this.address = address;
    this.range = range;
  }
}
