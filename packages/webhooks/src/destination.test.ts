import { describe, expect, it } from 'vitest';
import {
  addressRange,
  destinationRefusal,
  isPublicAddress,
  MAX_URL_BYTES,
  urlIssues,
} from './destination.ts';

describe('address classification (ipaddr.js)', () => {
  it('allows public unicast, IPv4 and IPv6', () => {
    for (const address of [
      '8.8.8.8',
      '1.1.1.1',
      '93.184.215.14',
      '2606:4700:4700::1111',
      '2a00:1450:4001:80b::200e',
    ])
      expect(isPublicAddress(address), address).toBe(true);
  });

  it('refuses loopback, private, link-local, unique-local, multicast, unspecified and the rest', () => {
    const refused: Record<string, string> = {
      '127.0.0.1': 'loopback',
      '127.8.9.10': 'loopback',
      '10.1.2.3': 'private',
      '172.16.5.4': 'private',
      '192.168.1.1': 'private',
      '169.254.169.254': 'linkLocal',
      '0.0.0.0': 'unspecified',
      '224.0.0.1': 'multicast',
      '255.255.255.255': 'broadcast',
      '100.64.0.1': 'carrierGradeNat',
      '::1': 'loopback',
      '[::1]': 'loopback',
      '::': 'unspecified',
      'fe80::1': 'linkLocal',
      'fc00::1': 'uniqueLocal',
      'fd12:3456::1': 'uniqueLocal',
      'ff02::1': 'multicast',
      // IPv4-mapped IPv6: judged as the IPv4 address inside, however it is written.
      '::ffff:127.0.0.1': 'loopback',
      '::ffff:7f00:1': 'loopback',
      '::ffff:10.0.0.1': 'private',
      '::ffff:169.254.169.254': 'linkLocal',
    };
    for (const [address, range] of Object.entries(refused)) {
      expect(addressRange(address), address).toBe(range);
      expect(isPublicAddress(address), address).toBe(false);
    }
    // Prefixes that can carry an internal IPv4 address inside: refused as well.
    for (const address of [
      '2002:7f00:1::1',
      '64:ff9b::7f00:1',
      '2001:0:4136:e378::1',
      '2001:db8::1',
      'not-an-ip',
    ])
      expect(isPublicAddress(address), address).toBe(false);
  });
});

describe('endpoint URL rules', () => {
  it('take an absolute http or https URL', () => {
    expect(urlIssues('https://shop.example/hooks?x=1')).toEqual([]);
    expect(urlIssues('http://127.0.0.1:8080/x')).toEqual([]);
  });

  it('name each broken rule on url', () => {
    const rules = (text: unknown) => urlIssues(text).map((i) => `${i.field}:${i.rule}`);
    expect(rules(undefined)).toEqual(['url:required']);
    expect(rules('shop.example/hooks')).toEqual(['url:url']);
    expect(rules('ftp://shop.example/x')).toEqual(['url:protocol']);
    expect(rules('https://user:pw@shop.example/x')).toEqual(['url:no_userinfo']);
    expect(rules('https://shop.example/x#top')).toEqual(['url:no_fragment']);
    expect(rules(`https://shop.example/${'a'.repeat(MAX_URL_BYTES)}`)).toEqual(['url:max_length']);
    expect(rules(`https://shop.example/${'é'.repeat(1_020)}`)).toEqual(['url:max_length']);
  });
});

describe('the registration check', () => {
  it('refuses literal non-public addresses and names that resolve to them (localhost)', async () => {
    for (const url of [
      'http://127.0.0.1:9/hook',
      'http://[::1]:9/hook',
      'http://[::ffff:127.0.0.1]/hook',
      'http://10.0.0.8/hook',
      'http://169.254.169.254/latest/meta-data',
      'http://0x7f.1/hook',
      'http://localhost:9/hook',
    ]) {
      const refusal = await destinationRefusal(url, false);
      expect(refusal?.rule, url).toBe('public_address');
      expect(refusal?.message, url).toMatch(/WEBHOOK_ALLOW_PRIVATE is off/);
    }
    expect((await destinationRefusal('http://localhost:9/hook', false))?.message).toMatch(
      /^localhost resolves to (127\.0\.0\.1|::1), a loopback address/,
    );
  });

  it('takes a public literal, refuses a name that does not resolve, and allows everything when told to', async () => {
    expect(await destinationRefusal('https://93.184.215.14/hook', false)).toBeNull();
    expect((await destinationRefusal('https://no-such-host.invalid/hook', false))?.rule).toBe('resolvable');
    expect(await destinationRefusal('http://localhost:9/hook', true)).toBeNull();
    expect(await destinationRefusal('http://10.0.0.8/hook', true)).toBeNull();
  });
});
