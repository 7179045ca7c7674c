/**
 * The address ranges webhooks may not reach: every entry of the IANA IPv4 and IPv6
 * Special-Purpose Address Registries that is not globally reachable, plus multicast and the
 * deprecated ranges, each with the RFC that defines it. Ranges that carry an IPv4 address inside
 * an IPv6 one (mapped, translated, 6to4, NAT64) are not listed here: the embedded address is
 * judged instead (see `AddressPolicy`).
 */
export interface SpecialRange {
  cidr: string;
  name: string;
  rfc: string;
}

export const REFUSED_IPV4: SpecialRange[] = [
  { cidr: '0.0.0.0/8', name: '"this network"', rfc: 'RFC 791' },
  { cidr: '10.0.0.0/8', name: 'private-use', rfc: 'RFC 1918' },
  { cidr: '100.64.0.0/10', name: 'shared address space (carrier-grade NAT)', rfc: 'RFC 6598' },
  { cidr: '127.0.0.0/8', name: 'loopback', rfc: 'RFC 1122' },
  { cidr: '169.254.0.0/16', name: 'link-local (cloud metadata lives here)', rfc: 'RFC 3927' },
  { cidr: '172.16.0.0/12', name: 'private-use', rfc: 'RFC 1918' },
  { cidr: '192.0.0.0/24', name: 'IETF protocol assignments', rfc: 'RFC 6890' },
  { cidr: '192.0.2.0/24', name: 'documentation (TEST-NET-1)', rfc: 'RFC 5737' },
  { cidr: '192.88.99.0/24', name: 'deprecated 6to4 relay anycast', rfc: 'RFC 7526' },
  { cidr: '192.168.0.0/16', name: 'private-use', rfc: 'RFC 1918' },
  { cidr: '198.18.0.0/15', name: 'benchmarking', rfc: 'RFC 2544' },
  { cidr: '198.51.100.0/24', name: 'documentation (TEST-NET-2)', rfc: 'RFC 5737' },
  { cidr: '203.0.113.0/24', name: 'documentation (TEST-NET-3)', rfc: 'RFC 5737' },
  { cidr: '224.0.0.0/4', name: 'multicast', rfc: 'RFC 5771' },
  { cidr: '240.0.0.0/4', name: 'reserved (and limited broadcast 255.255.255.255)', rfc: 'RFC 1112, RFC 919' },
];

/**
 * Globally reachable entries of the IPv4 registry, listed so the table is complete and the tests
 * prove they stay reachable: 192.0.0.9/32 (PCP anycast, RFC 7723), 192.0.0.10/32 (TURN anycast,
 * RFC 8155) sit inside 192.0.0.0/24 and are refused with it (no webhook receiver lives there);
 * 192.31.196.0/24 (AS112-v4, RFC 7535), 192.52.193.0/24 (AMT, RFC 7450) and 192.175.48.0/24
 * (AS112 direct delegation, RFC 7534) stay reachable.
 */
export const REACHABLE_IPV4_SPECIAL = ['192.31.196.0/24', '192.52.193.0/24', '192.175.48.0/24'];

export const REFUSED_IPV6: SpecialRange[] = [
  { cidr: '::/96', name: 'IPv4-compatible (deprecated), unspecified and loopback', rfc: 'RFC 4291' },
  { cidr: '64:ff9b:1::/48', name: 'IPv4/IPv6 translation, local use', rfc: 'RFC 8215' },
  { cidr: '100::/64', name: 'discard-only', rfc: 'RFC 6666' },
  { cidr: '100:0:0:1::/64', name: 'dummy prefix', rfc: 'RFC 9780' },
  { cidr: '2001::/23', name: 'IETF protocol assignments (Teredo 2001::/32, benchmarking 2001:2::/48)', rfc: 'RFC 2928, RFC 4380, RFC 5180' },
  { cidr: '2001:db8::/32', name: 'documentation', rfc: 'RFC 3849' },
  { cidr: '3fff::/20', name: 'documentation', rfc: 'RFC 9637' },
  { cidr: '5f00::/16', name: 'segment routing (SRv6) SIDs', rfc: 'RFC 9602' },
  { cidr: 'fc00::/7', name: 'unique-local', rfc: 'RFC 4193' },
  { cidr: 'fe80::/10', name: 'link-local', rfc: 'RFC 4291' },
  { cidr: 'fec0::/10', name: 'site-local (deprecated)', rfc: 'RFC 3879' },
  { cidr: 'ff00::/8', name: 'multicast', rfc: 'RFC 4291' },
];

/** Globally reachable entries inside refused IPv6 ranges (RFC 7723, 8155, 9665, 7450, 7535, 7343, 9374). */
export const REACHABLE_IPV6_SPECIAL = ['2001:1::1/128', '2001:1::2/128', '2001:1::3/128', '2001:3::/32', '2001:4:112::/48', '2001:20::/28', '2001:30::/28'];

/**
 * IPv6 ranges that carry an IPv4 address: the embedded address is judged as IPv4. `at` is the
 * byte offset of the 4 embedded bytes.
 */
export const EMBEDDING_IPV6: { cidr: string; name: string; rfc: string; at: number }[] = [
  { cidr: '::ffff:0:0/96', name: 'IPv4-mapped', rfc: 'RFC 4291', at: 12 },
  { cidr: '::ffff:0:0:0/96', name: 'IPv4-translated', rfc: 'RFC 2765', at: 12 },
  { cidr: '64:ff9b::/96', name: 'NAT64 well-known prefix', rfc: 'RFC 6052', at: 12 },
  { cidr: '2002::/16', name: '6to4', rfc: 'RFC 3056', at: 2 },
];
