import { lookup } from 'node:dns/promises';
import { BlockList, isIP } from 'node:net';
import { EMBEDDING_IPV6, REACHABLE_IPV4_SPECIAL, REACHABLE_IPV6_SPECIAL, REFUSED_IPV4, REFUSED_IPV6 } from './special-ranges';

/** Why an address may not be reached: the range, its CIDR and the RFC that defines it. */
export interface Refusal {
  address: string;
  range: string;
  cidr: string;
  rfc: string;
}

/** What the policy says of a webhook URL as written, before any name is resolved. */
export type UrlVerdict = { ok: true; url: URL; host: string; literal: boolean } | { ok: false; reason: string };

const listOf = (cidrs: string[]): BlockList => {
  const list = new BlockList();
  for (const cidr of cidrs) {
    const [address, prefix] = cidr.split('/');
    list.addSubnet(address, Number(prefix), isIP(address) === 6 ? 'ipv6' : 'ipv4');
  }
  return list;
};

/** The 16 bytes of an IPv6 address in any textual form (`::`, embedded dotted quad). */
export function ipv6Bytes(text: string): Buffer {
  let head = text;
  const tailV4: number[] = [];
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (dotted) {
    tailV4.push(...dotted[1].split('.').map(Number));
    head = text.slice(0, -dotted[1].length) + '0:0';
  }
  const [left, right] = head.includes('::') ? head.split('::') : [head, undefined];
  const l = left ? left.split(':') : [];
  const r = right !== undefined && right !== '' ? right.split(':') : [];
  const groups = right === undefined ? l : [...l, ...Array(8 - l.length - r.length).fill('0'), ...r];
  const bytes = Buffer.alloc(16);
  groups.forEach((g, i) => bytes.writeUInt16BE(parseInt(g || '0', 16), i * 2));
  if (tailV4.length === 4) tailV4.forEach((b, i) => (bytes[12 + i] = b));
  return bytes;
}

/**
 * The one test of "a webhook URL": an absolute `http:` or `https:` URL with a host, written with
 * its scheme (so `http:example.com`, which the URL parser would accept, is not one). Undefined
 * for anything else.
 */
export function parseHttpUrl(text: string): URL | undefined {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return undefined;
  }
  return (url.protocol === 'http:' || url.protocol === 'https:') && url.hostname.length > 0 && /^https?:\/\//i.test(text) ? url : undefined;
}

/** `url` with any `user:password@` removed, for logs and records. */
export function redactUserinfo(url: string): string {
  try {
    const u = new URL(url);
    if (!u.username && !u.password) return url;
    u.username = '';
    u.password = '';
    return u.toString();
  } catch {
    return url.replace(/\/\/[^/@]*@/, '//');
  }
}

/**
 * Which addresses webhooks may reach: one policy for the API (at save, test send and
 * redelivery) and the dispatcher (at delivery, on every DNS answer). Every entry of the IANA
 * special-purpose registries that is not globally reachable is refused, with multicast and the
 * deprecated ranges; an IPv4 address inside an IPv6 one (mapped, translated, 6to4, NAT64) is
 * judged as the IPv4 address it carries. `WEBHOOK_ALLOWED_CIDRS` opens ranges anyway (local
 * demos and tests).
 */
export class AddressPolicy {
  private readonly allowed: BlockList;
  private readonly refusedV4 = REFUSED_IPV4.map((r) => ({ ...r, list: listOf([r.cidr]) }));
  private readonly refusedV6 = REFUSED_IPV6.map((r) => ({ ...r, list: listOf([r.cidr]) }));
  private readonly reachableV4 = listOf(REACHABLE_IPV4_SPECIAL);
  private readonly reachableV6 = listOf(REACHABLE_IPV6_SPECIAL);
  private readonly embedding = EMBEDDING_IPV6.map((e) => ({ ...e, list: listOf([e.cidr]) }));
  /** Verdicts by address: receivers are few and judged on every request. */
  private readonly verdicts = new Map<string, Refusal | null>();

  constructor(allowedCidrs: string[] = []) {
    this.allowed = listOf(allowedCidrs);
  }

  /** Why `address` (IPv4 or IPv6 text) may not be reached, or null when webhooks may reach it. */
  judge(address: string): Refusal | null {
    let verdict = this.verdicts.get(address);
    if (verdict === undefined) {
      verdict = this.judgeNow(address);
      if (this.verdicts.size >= 10_000) this.verdicts.clear();
      this.verdicts.set(address, verdict);
    }
    return verdict;
  }

  private judgeNow(address: string): Refusal | null {
    const family = isIP(address);
    if (family === 4) {
      if (this.allowed.check(address, 'ipv4') || this.reachableV4.check(address, 'ipv4')) return null;
      const hit = this.refusedV4.find((r) => r.list.check(address, 'ipv4'));
      return hit ? { address, range: hit.name, cidr: hit.cidr, rfc: hit.rfc } : null;
    }
    if (family !== 6) return { address, range: 'not an IP address', cidr: '-', rfc: '-' };
    if (this.allowed.check(address, 'ipv6')) return null;
    const embedding = this.embedding.find((e) => e.list.check(address, 'ipv6'));
    if (embedding) {
      const bytes = ipv6Bytes(address);
      const v4 = [...bytes.subarray(embedding.at, embedding.at + 4)].join('.');
      const inner = this.judge(v4);
      return inner && { address, range: `${inner.range} inside ${embedding.name} (${embedding.cidr}, ${embedding.rfc})`, cidr: inner.cidr, rfc: inner.rfc };
    }
    if (this.reachableV6.check(address, 'ipv6')) return null;
    const hit = this.refusedV6.find((r) => r.list.check(address, 'ipv6'));
    return hit ? { address, range: hit.name, cidr: hit.cidr, rfc: hit.rfc } : null;
  }

  /**
   * Judges a webhook URL as written: http(s) only, no credentials (they would sit in plain text
   * in the trigger, the Event Logs and the log topic; secrets go in headers), and an address
   * literal in any spelling (`2852039166`, `0xa9fea9fe`, `[::ffff:10.0.0.1]`: the URL parser
   * normalises them) judged at once. A host name is left to {@link resolve}.
   */
  judgeUrl(text: string): UrlVerdict {
    const url = parseHttpUrl(text);
    if (!url) {
      return URL.canParse(text)
        ? { ok: false, reason: `${redactUserinfo(text)}: only http and https URLs are delivered` }
        : { ok: false, reason: `${JSON.stringify(text)} is not an absolute URL` };
    }
    if (url.username || url.password)
      return { ok: false, reason: `${redactUserinfo(text)}: credentials in the URL are refused; put secrets in headers, not URLs` };
    const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
    if (isIP(host)) {
      const refusal = this.judge(host);
      if (refusal) return { ok: false, reason: `${url.origin}: ${host} is in ${refusal.cidr} ${refusal.range} (${refusal.rfc}); webhooks may not reach it` };
      return { ok: true, url, host, literal: true };
    }
    return { ok: true, url, host, literal: false };
  }

  /**
   * Resolves `host` and returns the refusal of the first refused address it resolves to today,
   * or null (also when it does not resolve within `timeoutMs`: delivery time stays the guarantee).
   */
  async resolve(host: string, timeoutMs = 1000): Promise<Refusal | null> {
    const addresses = await Promise.race([
      lookup(host, { all: true }).catch(() => []),
      new Promise<[]>((resolve) => setTimeout(() => resolve([]), timeoutMs).unref()),
    ]);
    for (const { address } of addresses) {
      const refusal = this.judge(address);
      if (refusal) return refusal;
    }
    return null;
  }
}
