import { type LookupAddress, lookup } from 'node:dns';
import type { FieldIssue } from '@rechargeflow/domain';
import ipaddr from 'ipaddr.js';
import { DestinationRefusedError } from './destination-refused-error.ts';

/** Longest endpoint URL, in UTF-8 bytes. */
export const MAX_URL_BYTES = 2_048;

/**
 * The range an address belongs to, as ipaddr.js names it (`unicast` = public; `loopback`, `private`,
 * `linkLocal`, `uniqueLocal`, `multicast`, `unspecified`, `carrierGradeNat`, `reserved`, …). An
 * IPv4-mapped IPv6 address (`::ffff:127.0.0.1`) is judged as the IPv4 address it carries.
 */
export function addressRange(address: string): string {
  const bare = address.startsWith('[') && address.endsWith(']') ? address.slice(1, -1) : address;
  if (!ipaddr.isValid(bare)) return 'invalid';
  return ipaddr.process(bare).range();
}

/**
 * Whether webhooks may connect to `address`: only globally routed unicast. Everything ipaddr.js
 * names otherwise is refused — the internal ranges the SSRF guard is for, and also the tunnelling
 * and translation prefixes (6to4, Teredo, NAT64) that can carry an internal IPv4 address inside.
 */
export function isPublicAddress(address: string): boolean {
  return addressRange(address) === 'unicast';
}

/** Refuses `address` (reached as `host`) unless it is public. */
function assertPublic(host: string, address: string): void {
  const range = addressRange(address);
  if (range !== 'unicast') throw new DestinationRefusedError(host, address, range);
}

/**
 * The endpoint URL rules that need no network: an absolute http or https URL, no user info (it
 * would travel in every request and show in every listing), no fragment, at most 2,048 bytes.
 * Each broken rule is one issue on `url`.
 */
export function urlIssues(text: unknown): FieldIssue[] {
  const issue = (rule: string, message: string): FieldIssue[] => [{ field: 'url', rule, message }];
  if (typeof text !== 'string' || text.trim() === '')
    return issue('required', 'must be an http or https URL');
  if (Buffer.byteLength(text, 'utf8') > MAX_URL_BYTES)
    return issue('max_length', `must be at most ${MAX_URL_BYTES} bytes`);
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return issue('url', 'must be an absolute http or https URL');
  }
  const issues: FieldIssue[] = [];
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    issues.push(...issue('protocol', 'must start with http:// or https://'));
  if (url.username !== '' || url.password !== '')
    issues.push(...issue('no_userinfo', 'must not carry a user name or password'));
  if (url.hash !== '') issues.push(...issue('no_fragment', 'must not have a #fragment'));
  if (url.hostname === '') issues.push(...issue('host', 'must name a host'));
  return issues;
}

/** How long registration waits for DNS before giving up on a host. */
const REGISTRATION_LOOKUP_MS = 5_000;

function lookupAll(host: string): Promise<LookupAddress[]> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(Object.assign(new Error(`DNS lookup of ${host} timed out`), { code: 'ETIMEOUT' })),
      REGISTRATION_LOOKUP_MS,
    );
    lookup(host, { all: true, verbatim: true }, (error, addresses) => {
      clearTimeout(timer);
      if (error) reject(error);
      else resolve(addresses);
    });
  });
}

/**
 * The registration check of a URL that passed `urlIssues`: with WEBHOOK_ALLOW_PRIVATE off, a
 * literal address must be public and a host name must resolve, to public addresses only. Answers
 * the refusal in words, or null. (Delivery checks again, on the address it connects to: a name
 * may resolve elsewhere later.)
 */
export async function destinationRefusal(
  text: string,
  allowPrivate: boolean,
): Promise<{ readonly rule: string; readonly message: string } | null> {
  if (allowPrivate) return null;
  const host = new URL(text).hostname;
  const bare = host.startsWith('[') ? host.slice(1, -1) : host;
  try {
    if (ipaddr.isValid(bare)) assertPublic(bare, bare);
    else {
      const addresses = await lookupAll(bare);
      for (const { address } of addresses) assertPublic(bare, address);
    }
    return null;
  } catch (error) {
    if (error instanceof DestinationRefusedError) return { rule: 'public_address', message: error.message };
    const code = (error as { code?: unknown }).code;
    if (code === 'ENOTFOUND' || code === 'ENODATA' || code === 'ETIMEOUT' || code === 'EAI_AGAIN')
      return { rule: 'resolvable', message: `the host ${bare} does not resolve (${String(code)})` };
    throw error;
  }
}

type LookupCallback = (
  error: NodeJS.ErrnoException | null,
  address: string | LookupAddress[],
  family?: number,
) => void;

/**
 * A `lookup` for net/tls.connect that refuses the connection when the name resolves to any
 * non-public address. It runs at connect time on the very addresses the socket will use, so a
 * name that resolved to a public address at registration (or a moment ago) and now points inside
 * (DNS rebinding) is refused all the same.
 */
export function guardedLookup(
  hostname: string,
  options: { readonly all?: boolean; readonly family?: number | string },
  callback: LookupCallback,
): void {
  lookup(hostname, { ...options, all: true, verbatim: true } as { all: true }, (error, addresses) => {
    if (error) return callback(error, []);
    try {
      for (const { address } of addresses) assertPublic(hostname, address);
    } catch (refused) {
      return callback(refused as NodeJS.ErrnoException, []);
    }
    if (options.all) return callback(null, addresses);
    const first = addresses[0];
    if (!first)
      return callback(Object.assign(new Error(`${hostname} has no address`), { code: 'ENOTFOUND' }), []);
    return callback(null, first.address, first.family);
  });
}

/** A literal address in a URL host is connected to without a lookup: checked here instead. */
export function assertLiteralAllowed(hostname: string): void {
  const bare = hostname.startsWith('[') ? hostname.slice(1, -1) : hostname;
  if (ipaddr.isValid(bare)) assertPublic(bare, bare);
}
