import { describe, expect, it } from 'vitest';
import { configuredSecrets } from './secrets.ts';

describe('configuredSecrets', () => {
  it('lists every secret value the environment configures, and nothing else', () => {
    const secrets = configuredSecrets({
      CALLBACK_TOKEN: ' old-token-0123456789 , new-token-0123456789 ',
      API_KEYS: `shop:shop-secret-0123456789,ops:sha256-${'a'.repeat(64)}:operator,kiosk:kiosk-secret-0123456789:client`,
      A1TOPUP_PASSWORD: 'a1-password',
      TELGOO5_PASSWORD: 't5-password',
      TELGOO5_PIN: '98765432',
      REDIS_URL: 'redis://:redis%40pass@127.0.0.1:6379',
      MONGO_URL: 'mongodb://user:mongo-pass@db/ledger',
      A1TOPUP_USERNAME: 'not-a-secret',
    });
    expect(secrets.sort()).toEqual(
      [
        'old-token-0123456789',
        'new-token-0123456789',
        'shop-secret-0123456789',
        'kiosk-secret-0123456789',
        'a1-password',
        't5-password',
        '98765432',
        'redis@pass',
        'mongo-pass',
      ].sort(),
    );
    expect(configuredSecrets({})).toEqual([]);
    // Every provider's credentials by their names, the backup's and any provider added later too.
    expect(
      configuredSecrets({
        A1TOPUP_BACKUP_PASSWORD: 'backup-password',
        A1TOPUP_THIRD_PASSWORD: 'third-password',
        A1TOPUP_THIRD_USERNAME: 'not-a-secret-either',
        OTHER_API_SECRET: 'other-secret',
      }).sort(),
    ).toEqual(['backup-password', 'other-secret', 'third-password']);
    expect(configuredSecrets({ REDIS_URL: 'not a url', CALLBACK_TOKEN: '' })).toEqual([]);
  });
});
