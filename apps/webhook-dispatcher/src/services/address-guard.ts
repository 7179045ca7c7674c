import { lookup as dnsLookup, LookupAddress } from 'node:dns';
import { BlockList, isIP } from 'node:net';

/** Address ranges a webhook may not reach, by the reason given when one is refused. */
const BLOCKED_RANGES: Record<string, [string, number, 'ipv4' | 'ipv6'][]> = {
  loopback: [
    ['127.0.0.0', 8, 'ipv4'],
    ['::1', 128, 'ipv6'],
  ],
  private: [
    ['10.0.0.0', 8, 'ipv4'],
    ['172.16.0.0', 12, 'ipv4'],
    ['192.168.0.0', 16, 'ipv4'],
    ['100.64.0.0', 10, 'ipv4'], // carrier-grade NAT
    ['fc00::', 7, 'ipv6'], // unique-local
  ],
  'link-local': [
    ['169.254.0.0', 16, 'ipv4'], // includes the cloud metadata address 169.254.169.254
    ['fe80::', 10, 'ipv6'],
  ],
  multicast: [
    ['224.0.0.0', 4, 'ipv4'],
    ['ff00::', 8, 'ipv6'],
  ],
  unspecified: [
    ['0.0.0.0', 8, 'ipv4'],
    ['::', 128, 'ipv6'],
  ],
  reserved: [
    ['240.0.0.0', 4, 'ipv4'], // includes broadcast 255.255.255.255
    ['192.0.0.0', 24, 'ipv4'],
    ['198.18.0.0', 15, 'ipv4'],
    ['64:ff9b::', 96, 'ipv6'], // NAT64 can reach any IPv4 address, private ones included
  ],
};

function blockListOf(ranges: [string, number, 'ipv4' | 'ipv6'][]): BlockList {
  const list = new BlockList();
  for (const [address, prefix, family] of ranges) list.addSubnet(address, prefix, family);
  return list;
}

/** Raised when a webhook URL leads to an address it may not reach. */
export class BlockedAddressError extends Error {
  readonly code = 'EBLOCKED';

  constructor(
    readonly host: string,
    readonly address: string,
    readonly range: string,
  ) {
    super(`${host} resolves to ${address}, a ${range} address webhooks may not reach`);
    this.name = 'BlockedAddressError';
  }
}

/**
 * The SSRF guard: webhooks may only reach public addresses. A URL's host is resolved and every
 * address checked before the request, and again when the connection is made (the `lookup` given
 * to the HTTP client), so a name that changes its answer in between is caught too. Ranges in
 * the allow-list (WEBHOOK_ALLOWED_CIDRS, for local demos and tests) are reachable anyway.
 */
export class AddressGuard {
  private readonly blocked = Object.entries(BLOCKED_RANGES).map(([range, list]) => ({ range, list: blockListOf(list) }));
  private readonly allowed: BlockList;

  constructor(allowedCidrs: string[]) {
    this.allowed = blockListOf(
      allowedCidrs.map((cidr) => {
        const [address, prefix] = cidr.split('/');
        return [address, Number(prefix), isIP(address) === 6 ? 'ipv6' : 'ipv4'];
      }),
    );
  }

  /** Verdicts by address: receivers are few and checked on every request. */
  private readonly verdicts = new Map<string, string | null>();

  /** The range that makes `address` unreachable, or null when webhooks may reach it. */
  rangeOf(address: string): string | null {
    let verdict = this.verdicts.get(address);
    if (verdict === undefined) {
      const family = isIP(address) === 6 ? 'ipv6' : 'ipv4';
      verdict = this.allowed.check(address, family) ? null : (this.blocked.find((b) => b.list.check(address, family))?.range ?? null);
      if (this.verdicts.size >= 10_000) this.verdicts.clear();
      this.verdicts.set(address, verdict);
    }
    return verdict;
  }

  /**
   * Resolves the host of `url` and rejects with a {@link BlockedAddressError} if any of its
   * addresses is refused (undefined: an allowed address literal, nothing to wait for). DNS
   * failures are passed on as they are (a retriable network failure).
   */
  check(url: URL): Promise<void> | undefined {
    const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
    if (isIP(host)) {
      // An address literal needs no resolving: checked synchronously, the common case stays cheap.
      const range = this.rangeOf(host);
      if (range) return Promise.reject(new BlockedAddressError(host, host, range));
      return undefined;
    }
    return resolveAll(host).then((addresses) => {
      for (const { address } of addresses) {
        const range = this.rangeOf(address);
        if (range) throw new BlockedAddressError(host, address, range);
      }
    });
  }

  /** A `net.connect` lookup that refuses blocked addresses at connection time. */
  readonly lookup = (
    hostname: string,
    options: object,
    callback: (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void,
  ): void => {
    dnsLookup(hostname, { ...options, all: true }, (err, addresses) => {
      if (err) return callback(err, '', 0);
      const refused = addresses.map((a) => ({ a, range: this.rangeOf(a.address) })).find((x) => x.range);
      if (refused) return callback(new BlockedAddressError(hostname, refused.a.address, refused.range!), '', 0);
      if ((options as { all?: boolean }).all) return callback(null, addresses);
      callback(null, addresses[0].address, addresses[0].family);
    });
  };
}

function resolveAll(host: string): Promise<LookupAddress[]> {
  return new Promise((resolve, reject) => dnsLookup(host, { all: true }, (err, addresses) => (err ? reject(err) : resolve(addresses))));
}
