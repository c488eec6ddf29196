export type {
  CreateResult,
  LedgerStore,
  ListOrdersQuery,
  NewOrder,
  OrderPage,
  OrderPatch,
  TransitionCommand,
  TransitionResult,
} from './ledger-store.ts';
