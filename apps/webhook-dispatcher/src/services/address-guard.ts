import { lookup as dnsLookup, LookupAddress } from 'node:dns';
import { isIP } from 'node:net';
import { AddressPolicy } from '@triggers/address-policy';

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
 * The SSRF guard at delivery: webhooks may only reach addresses the {@link AddressPolicy} (the
 * one the API judges URLs with at save) allows. A URL's host is resolved and every address
 * checked before the request, and again when the connection is made (the `lookup` given to the
 * HTTP client), so a name that changes its answer in between is caught too.
 */
export class AddressGuard {
  private readonly policy: AddressPolicy;

  constructor(allowedCidrs: string[]) {
    this.policy = new AddressPolicy(allowedCidrs);
  }

  /** The range that makes `address` unreachable (`169.254.0.0/16 link-local ...`), or null when webhooks may reach it. */
  rangeOf(address: string): string | null {
    const refusal = this.policy.judge(address);
    return refusal && `${refusal.cidr} ${refusal.range}`;
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
