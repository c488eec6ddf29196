// Makes a new API key: prints the key once (hand it to the client) and the API_KEYS entry that
// holds only its sha256, so the servers' environment never contains a usable key.
//   npm run api-key -- <clientId> [client|operator]
import { randomBytes } from 'node:crypto';
import { hashedApiKeyEntry } from '@rechargeflow/config';

const [clientId, role = 'client'] = process.argv.slice(2);
if (
  !clientId ||
  !/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(clientId) ||
  (role !== 'client' && role !== 'operator')
) {
  process.stderr.write(
    'usage: npm run api-key -- <clientId: 1-64 letters, digits, . _ -> [client|operator]\n',
  );
  process.exit(2);
}
// 24 random bytes: 32 characters of base64url.
const key = randomBytes(24).toString('base64url');
process.stdout.write(
  [
    `key (give it to ${clientId}; it is not stored anywhere): ${key}`,
    `API_KEYS entry (add it, comma-separated):          ${hashedApiKeyEntry(clientId, key, role)}`,
    '',
  ].join('\n'),
);
