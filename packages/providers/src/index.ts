export { createA1TopupProvider } from './a1topup/client.ts';
export { A1TOPUP_FORMATS, type A1TopupFormat, type A1TopupOptions } from './a1topup/options.ts';
export { mapStatus as mapA1TopupStatus } from './a1topup/parse.ts';
export {
  type FailureClass,
  type ProviderAnswer,
  type ProviderBalance,
  ProviderError,
  type RechargeCall,
  type RechargeProvider,
} from './provider.ts';
