import { Inject, Injectable } from '@nestjs/common';
import { AddressPolicy } from '@triggers/address-policy';
import type { ApiConfig } from '@triggers/config';
import { APP_CONFIG } from '@triggers/runtime';
import { ApiError } from './api-errors';

/**
 * The address policy at save, test send and redelivery: the one the dispatcher applies at
 * delivery (`@triggers/address-policy`, with the same WEBHOOK_ALLOWED_CIDRS). A URL with
 * credentials, or whose host is an address literal in a refused range, is a 400 naming the URL and
 * the range; a host name that resolves into a refused range today is saved with a warning
 * (delivery time stays the guarantee, since DNS answers change).
 */
@Injectable()
export class WebhookUrls {
  private readonly policy: AddressPolicy;

  constructor(@Inject(APP_CONFIG) config: ApiConfig) {
    this.policy = new AddressPolicy(config.allowedCidrs);
  }

  /** Why the URL is refused as written (credentials, a refused address literal), or null; no DNS lookup. */
  refused(url: string): string | null {
    const verdict = this.policy.judgeUrl(url);
    return verdict.ok ? null : verdict.reason;
  }

  /** @throws ApiError 400 for the first URL refused as written; returns warnings for the others. */
  async check(urls: { path: string; url: string }[]): Promise<string[]> {
    const problems = urls.flatMap(({ path, url }) => {
      const verdict = this.policy.judgeUrl(url);
      return verdict.ok ? [] : [{ path, message: verdict.reason }];
    });
    if (problems.length > 0) throw new ApiError(400, `webhook URL refused: ${problems[0].message}`, problems);
    const warnings = await Promise.all(
      urls.map(async ({ path, url }) => {
        const verdict = this.policy.judgeUrl(url);
        if (!verdict.ok || verdict.literal) return null;
        const refusal = await this.policy.resolve(verdict.host);
        return (
          refusal &&
          `${path}: ${verdict.host} resolves to ${refusal.address} today, in ${refusal.cidr} ${refusal.range} (${refusal.rfc}); deliveries there will be blocked`
        );
      }),
    );
    return warnings.filter((w): w is string => w !== null);
  }
}
