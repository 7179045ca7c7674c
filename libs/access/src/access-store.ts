import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Collection, Db } from 'mongodb';

/** The permissions of the spec's "Integration > Triggers" module. */
export const PERMISSIONS = ['triggers:read', 'triggers:write'] as const;
export type Permission = (typeof PERMISSIONS)[number];

const TENANT_ID = /^[A-Za-z0-9_-]{1,64}$/;

/** A tenant of the platform. */
export interface TenantDocument {
  _id: string;
  name: string;
  createdAt: Date;
  /** Where the tenant's endpoint health notifications go (PUT /v1/tenant/notifications); absent: none are sent. */
  notificationsUrl?: string | null;
}

/** An API key as stored: only the hash of its secret part, never the key itself. */
export interface ApiKeyDocument {
  _id: string;
  tenantId: string;
  hash: string;
  permissions: Permission[];
  createdAt: Date;
  revokedAt: Date | null;
}

/** Who is calling, once a key is verified. */
export interface Caller {
  keyId: string;
  tenantId: string;
  permissions: Permission[];
}

/** A request to the store that cannot be met (unknown tenant, duplicate, bad input). */
export class AccessError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AccessError';
  }
}

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

/**
 * Tenants and API keys in MongoDB. A key is `trg_<keyId>_<secret>`: the key id finds the
 * document, the secret is compared by hash in constant time. Keys are random 256-bit secrets, so
 * a plain SHA-256 is enough (no password stretching is needed for high-entropy tokens).
 */
export class AccessStore {
  private readonly tenants: Collection<TenantDocument>;
  private readonly keys: Collection<ApiKeyDocument>;

  constructor(db: Db) {
    this.tenants = db.collection<TenantDocument>('tenants');
    this.keys = db.collection<ApiKeyDocument>('api_keys');
  }

  /** Creates the indexes the lookups need (idempotent). */
  async ensureIndexes(): Promise<void> {
    await this.keys.createIndex({ tenantId: 1 });
  }

  /** Creates a tenant. @throws AccessError for a bad or taken id. */
  async createTenant(tenantId: string, name = tenantId): Promise<TenantDocument> {
    if (!TENANT_ID.test(tenantId)) throw new AccessError(`tenant id "${tenantId}" must be 1-64 letters, digits, _ or -`);
    const doc: TenantDocument = { _id: tenantId, name, createdAt: new Date() };
    try {
      await this.tenants.insertOne(doc);
    } catch (err) {
      if ((err as { code?: number }).code === 11000) throw new AccessError(`tenant "${tenantId}" already exists`);
      throw err;
    }
    return doc;
  }

  async getTenant(tenantId: string): Promise<TenantDocument | null> {
    return this.tenants.findOne({ _id: tenantId });
  }

  /** Sets (or, with null, clears) where a tenant's notifications go. @returns false for an unknown tenant. */
  async setNotificationsUrl(tenantId: string, url: string | null): Promise<boolean> {
    const r = await this.tenants.updateOne({ _id: tenantId }, { $set: { notificationsUrl: url } });
    return r.matchedCount === 1;
  }

  /** Where a tenant's notifications go, or null (none set, or no such tenant). */
  async notificationsUrlOf(tenantId: string): Promise<string | null> {
    const doc = await this.tenants.findOne({ _id: tenantId }, { projection: { notificationsUrl: 1 } });
    return doc?.notificationsUrl ?? null;
  }

  /**
   * Creates a key for a tenant. The returned `key` is the only time it is ever visible.
   * @throws AccessError for an unknown tenant or permission.
   */
  async createKey(tenantId: string, permissions: string[]): Promise<{ keyId: string; key: string }> {
    if (!(await this.getTenant(tenantId))) throw new AccessError(`unknown tenant "${tenantId}"`);
    const unknown = permissions.filter((p) => !(PERMISSIONS as readonly string[]).includes(p));
    if (unknown.length > 0 || permissions.length === 0) {
      throw new AccessError(`permissions must be some of ${PERMISSIONS.join(', ')}${unknown.length ? `; unknown: ${unknown.join(', ')}` : ''}`);
    }
    const keyId = randomBytes(6).toString('hex');
    const secret = randomBytes(32).toString('base64url');
    await this.keys.insertOne({
      _id: keyId,
      tenantId,
      hash: sha256(secret),
      permissions: [...new Set(permissions)] as Permission[],
      createdAt: new Date(),
      revokedAt: null,
    });
    return { keyId, key: `trg_${keyId}_${secret}` };
  }

  /** The caller a presented key belongs to, or undefined for a malformed, unknown or revoked key. */
  async verifyKey(presented: string): Promise<Caller | undefined> {
    const m = /^trg_([0-9a-f]{12})_([A-Za-z0-9_-]{43})$/.exec(presented);
    if (!m) return undefined;
    const doc = await this.keys.findOne({ _id: m[1] });
    if (!doc || doc.revokedAt) return undefined;
    const expected = Buffer.from(doc.hash, 'hex');
    const actual = Buffer.from(sha256(m[2]), 'hex');
    if (expected.length !== actual.length || !timingSafeEqual(expected, actual)) return undefined;
    return { keyId: doc._id, tenantId: doc.tenantId, permissions: doc.permissions };
  }

  /** Revokes a key; false when there is no such key. */
  async revokeKey(keyId: string): Promise<boolean> {
    const r = await this.keys.updateOne({ _id: keyId, revokedAt: null }, { $set: { revokedAt: new Date() } });
    return r.matchedCount === 1;
  }

  /** A tenant's keys, without their hashes. */
  async listKeys(tenantId: string): Promise<Omit<ApiKeyDocument, 'hash'>[]> {
    return this.keys
      .find({ tenantId }, { projection: { hash: 0 } })
      .sort({ createdAt: 1 })
      .toArray();
  }
}
