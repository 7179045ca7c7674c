import { AddressPolicy, ipv6Bytes, redactUserinfo } from './address-policy';
import { INTERNAL_WEBHOOK_URLS } from '@triggers/testing';
import { REFUSED_IPV4, REFUSED_IPV6 } from './special-ranges';

describe('AddressPolicy', () => {
  const policy = new AddressPolicy();

  // One row per entry of the IANA special-purpose registries (and multicast, deprecated ranges):
  // an address inside it, the CIDR that must refuse it, and the RFC that defines the range.
  it.each([
    ['0.0.0.0', '0.0.0.0/8', 'RFC 791'],
    ['0.1.2.3', '0.0.0.0/8', 'RFC 791'],
    ['10.0.0.1', '10.0.0.0/8', 'RFC 1918'],
    ['100.64.0.1', '100.64.0.0/10', 'RFC 6598'],
    ['127.0.0.1', '127.0.0.0/8', 'RFC 1122'],
    ['169.254.169.254', '169.254.0.0/16', 'RFC 3927'],
    ['172.31.255.255', '172.16.0.0/12', 'RFC 1918'],
    ['192.0.0.8', '192.0.0.0/24', 'RFC 6890'],
    ['192.0.0.170', '192.0.0.0/24', 'RFC 6890'],
    ['192.0.2.1', '192.0.2.0/24', 'RFC 5737'],
    ['192.88.99.1', '192.88.99.0/24', 'RFC 7526'],
    ['192.168.1.1', '192.168.0.0/16', 'RFC 1918'],
    ['198.18.0.1', '198.18.0.0/15', 'RFC 2544'],
    ['198.51.100.7', '198.51.100.0/24', 'RFC 5737'],
    ['203.0.113.9', '203.0.113.0/24', 'RFC 5737'],
    ['224.0.0.251', '224.0.0.0/4', 'RFC 5771'],
    ['240.0.0.1', '240.0.0.0/4', 'RFC 1112, RFC 919'],
    ['255.255.255.255', '240.0.0.0/4', 'RFC 1112, RFC 919'],
    ['::', '::/96', 'RFC 4291'],
    ['::1', '::/96', 'RFC 4291'],
    ['::10.0.0.1', '::/96', 'RFC 4291'],
    ['::127.0.0.1', '::/96', 'RFC 4291'],
    ['::a9fe:a9fe', '::/96', 'RFC 4291'],
    ['64:ff9b:1::a00:1', '64:ff9b:1::/48', 'RFC 8215'],
    ['100::1', '100::/64', 'RFC 6666'],
    ['100:0:0:1::1', '100:0:0:1::/64', 'RFC 9780'],
    ['2001::1', '2001::/23', 'RFC 2928, RFC 4380, RFC 5180'],
    ['2001:0:4136:e378:8000:63bf:3fff:fdd2', '2001::/23', 'RFC 2928, RFC 4380, RFC 5180'],
    ['2001:2::1', '2001::/23', 'RFC 2928, RFC 4380, RFC 5180'],
    ['2001:db8::1', '2001:db8::/32', 'RFC 3849'],
    ['3fff::1', '3fff::/20', 'RFC 9637'],
    ['5f00::1', '5f00::/16', 'RFC 9602'],
    ['fd00::1', 'fc00::/7', 'RFC 4193'],
    ['fe80::1', 'fe80::/10', 'RFC 4291'],
    ['fec0::1', 'fec0::/10', 'RFC 3879'],
    ['ff02::1', 'ff00::/8', 'RFC 4291'],
    // IPv4 inside IPv6 is judged as the IPv4 address it carries.
    ['::ffff:10.0.0.1', '10.0.0.0/8', 'RFC 1918'],
    ['::ffff:a9fe:a9fe', '169.254.0.0/16', 'RFC 3927'],
    ['::ffff:0:7f00:1', '127.0.0.0/8', 'RFC 1122'],
    ['64:ff9b::a9fe:a9fe', '169.254.0.0/16', 'RFC 3927'],
    ['2002:a9fe:a9fe::1', '169.254.0.0/16', 'RFC 3927'],
    ['2002:c0a8:0101::', '192.168.0.0/16', 'RFC 1918'],
  ])('refuses %s (%s, %s)', (address, cidr, rfc) => {
    expect(policy.judge(address)).toMatchObject({ address, cidr, rfc });
  });

  it('covers every listed range with a row above', () => {
    // Guards the table against a range added without a test.
    const tested = new Set([
      '0.0.0.0/8',
      '10.0.0.0/8',
      '100.64.0.0/10',
      '127.0.0.0/8',
      '169.254.0.0/16',
      '172.16.0.0/12',
      '192.0.0.0/24',
      '192.0.2.0/24',
      '192.88.99.0/24',
      '192.168.0.0/16',
      '198.18.0.0/15',
      '198.51.100.0/24',
      '203.0.113.0/24',
      '224.0.0.0/4',
      '240.0.0.0/4',
      '::/96',
      '64:ff9b:1::/48',
      '100::/64',
      '100:0:0:1::/64',
      '2001::/23',
      '2001:db8::/32',
      '3fff::/20',
      '5f00::/16',
      'fc00::/7',
      'fe80::/10',
      'fec0::/10',
      'ff00::/8',
    ]);
    for (const r of [...REFUSED_IPV4, ...REFUSED_IPV6]) expect(tested).toContain(r.cidr);
  });

  it.each([
    '8.8.8.8',
    '1.1.1.1',
    '172.32.0.1',
    '192.31.196.1', // AS112-v4, globally reachable (RFC 7535)
    '192.52.193.1', // AMT (RFC 7450)
    '2606:4700:4700::1111',
    '::ffff:8.8.8.8', // mapped public IPv4
    '64:ff9b::808:808', // NAT64 of a public IPv4
    '2002:0808:0808::1', // 6to4 of a public IPv4
    '2001:4:112::1', // AS112-v6 inside 2001::/23, globally reachable (RFC 7535)
    '2620:4f:8000::1', // AS112 direct delegation (RFC 7534)
  ])('lets public %s through', (address) => {
    expect(policy.judge(address)).toBeNull();
  });

  it('opens the allowed ranges and nothing beside them', () => {
    const local = new AddressPolicy(['127.0.0.0/8', '::1/128']);
    expect(local.judge('127.0.0.1')).toBeNull();
    expect(local.judge('::1')).toBeNull();
    expect(local.judge('10.0.0.1')).not.toBeNull();
  });

  it.each([...INTERNAL_WEBHOOK_URLS, ['http://0251.0376.0251.0376/', '169.254.0.0/16'], ['http://127.1/', '127.0.0.0/8']])(
    'judges the literal in %s at once, in any spelling',
    (url, cidr) => {
      const verdict = policy.judgeUrl(url);
      expect(verdict.ok).toBe(false);
      expect(!verdict.ok && verdict.reason).toContain(cidr);
    },
  );

  it('refuses credentials in a URL, and other schemes; leaves host names to resolving', () => {
    const creds = policy.judgeUrl('https://user:secret@hooks.example/x');
    expect(creds).toEqual({ ok: false, reason: expect.stringContaining('put secrets in headers, not URLs') });
    expect(!creds.ok && creds.reason).not.toContain('secret@');
    expect(policy.judgeUrl('ftp://hooks.example/').ok).toBe(false);
    expect(policy.judgeUrl('https://hooks.example/x')).toMatchObject({ ok: true, literal: false, host: 'hooks.example' });
  });

  it('resolves a host name and names the refused address it leads to', async () => {
    expect(await policy.resolve('localhost')).toMatchObject({ cidr: expect.stringMatching(/127\.0\.0\.0\/8|::\/96/) });
  });

  it('reads IPv6 in every form', () => {
    expect(ipv6Bytes('::ffff:10.0.0.1').toString('hex')).toBe('00000000000000000000ffff0a000001');
    expect(ipv6Bytes('2002:a9fe:a9fe::1').toString('hex')).toBe('2002a9fea9fe00000000000000000001');
    expect(ipv6Bytes('fe80::').toString('hex')).toBe('fe800000000000000000000000000000');
  });

  it('redacts user info wherever a URL is shown', () => {
    expect(redactUserinfo('https://user:pw@hooks.example/x?y=1')).toBe('https://hooks.example/x?y=1');
    expect(redactUserinfo('https://hooks.example/x')).toBe('https://hooks.example/x');
  });
});
