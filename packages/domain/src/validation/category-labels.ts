import type { OperatorCategory } from '../catalogue/operators.ts';

/** How a message names what is being paid for ("... for a DTH recharge"). */
export const CATEGORY_LABELS: Readonly<Record<OperatorCategory, string>> = Object.freeze({
  mobile: 'a prepaid mobile recharge',
  postpaid_mobile: 'a postpaid mobile bill',
  landline: 'a landline bill',
  dth: 'a DTH recharge',
  electricity: 'an electricity bill',
  gas: 'a gas bill',
  insurance: 'an insurance premium',
  money_transfer: 'a money transfer',
  data_card: 'a data card recharge',
  fastag: 'a FASTag recharge',
  other: 'this operator',
});
