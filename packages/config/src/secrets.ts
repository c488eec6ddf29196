/**
 * Every secret value the environment configures, for the logger to cut out of every line by value
 * (createLogger's `secrets`): callback tokens, API keys written in clear (hashed entries hold no
 * usable key), provider passwords and PINs, and the password part of storage URLs. Read from the
 * raw environment, so a part gets the list whatever its own configuration schema keeps.
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
  for (const name of [
    'A1TOPUP_PASSWORD',
    'A1TOPUP_BACKUP_PASSWORD',
    'TELGOO5_PASSWORD',
    'TELGOO5_PIN',
  ] as const) {
    const value = env[name]?.trim();
    if (value) secrets.add(value);
  }
  for (const name of ['REDIS_URL', 'MONGO_URL'] as const) {
    const password = urlPassword(env[name]);
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
