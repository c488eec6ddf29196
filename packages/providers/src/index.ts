export {
  type FailureClass,
  type ProviderAnswer,
  type ProviderBalance,
  ProviderError,
  type RechargeCall,
  type RechargeProvider,
} from './provider.ts';
