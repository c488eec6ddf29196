/** Variables whose value is a secret by their name: a provider module names its credentials so. */
const SECRET_NAME = /_(PASSWORD|PIN|SECRET)$/;

/**
 * Every secret value the environment configures, for the logger to cut out of every line by value
 * (createLogger's `secrets`): callback tokens, API keys written in clear (hashed entries hold no
 * usable key), provider passwords and PINs (every variable named `*_PASSWORD`, `*_PIN` or
 * `*_SECRET`), and the password part of storage URLs. Read from the raw environment, so a part
 * gets the list whatever its own configuration schema keeps.
 */
export function configuredSecrets(env: Readonly<Record<string, string | undefined>>): string[] {
  const list = (value: string | undefined) =>
    (value ?? '')
      .split(',')
      .map((each) => each.trim())
      .filter((each) => each !== '');
  const secrets = new Set<string>(list(env.CALLBACK_TOKEN));
  for (const entry of list(env.API_KEYS)) {
    const key = entry.split(':')[1]?.trim();
    if (key && !key.startsWith('sha256-')) secrets.add(key);
  }
  // Provider credentials by name, so a provider added to the registry is covered without a list
  // here: A1TOPUP_PASSWORD, A1TOPUP_BACKUP_PASSWORD, TELGOO5_PASSWORD, TELGOO5_PIN, …
  for (const [name, raw] of Object.entries(env)) {
    const value = SECRET_NAME.test(name) ? raw?.trim() : undefined;
    if (value) secrets.add(value);
  }
  for (const name of ['REDIS_URL', 'LEDGER_REDIS_URL', 'QUEUE_REDIS_URL', 'MONGO_URL'] as const) {
    const password = urlPassword(env[name]);
    if (password) secrets.add(password);
  }
  // Cluster seeds written as redis://user:password@host:port carry it too.
  for (const seed of list(env.QUEUE_REDIS_CLUSTER_NODES)) {
    const password = urlPassword(seed);
    if (password) secrets.add(password);
  }
  return [...secrets];
}

function urlPassword(value: string | undefined): string | undefined {
  if (!value) return undefined;
  try {
    const password = decodeURIComponent(new URL(value).password);
    return password === '' ? undefined : password;
  } catch {
    return undefined;
  }
}
