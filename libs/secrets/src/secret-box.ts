import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

/** One AES-256 key and the id its ciphertexts carry. */
export interface SecretKey {
  id: string;
  key: Buffer;
}

/** The key new secrets are sealed with, and older keys still accepted for opening. */
export interface SecretKeyring {
  current: SecretKey;
  previous: SecretKey[];
}

const PREFIX = 'enc:v1:';

/**
 * Webhook signing secrets at rest: AES-256-GCM, sealed as `enc:v1:<key id>:<base64 of iv, tag,
 * ciphertext>` and bound to where they belong (the associated data names tenant, trigger and
 * secret), so a sealed secret copied to another trigger does not open. New secrets are sealed with
 * the current key; secrets sealed with a previous key still open, so keys rotate without
 * downtime (add the new key, keep the old one as previous until every secret was sealed again).
 */
export class SecretBox {
  private readonly keys: Map<string, Buffer>;

  constructor(private readonly keyring: SecretKeyring) {
    this.keys = new Map([keyring.current, ...keyring.previous].map((k) => [k.id, k.key]));
  }

  /** True for a value this box (or a box with other keys) sealed. */
  static isSealed(value: string): boolean {
    return value.startsWith(PREFIX);
  }

  /** Seals `plain` with the current key for the place `context` names. */
  seal(plain: string, context: string): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.keyring.current.key, iv);
    cipher.setAAD(Buffer.from(context));
    const body = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
    return `${PREFIX}${this.keyring.current.id}:${Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64')}`;
  }

  /**
   * Opens a sealed secret for the place `context` names.
   * @throws Error when its key is unknown here, or it was altered or sealed for another place.
   */
  open(sealed: string, context: string): string {
    if (!SecretBox.isSealed(sealed)) throw new Error('not a sealed secret');
    const rest = sealed.slice(PREFIX.length);
    const colon = rest.indexOf(':');
    const keyId = rest.slice(0, colon);
    const key = this.keys.get(keyId);
    if (!key) throw new Error(`secret sealed with key "${keyId}", which is neither SECRETS_KEY nor in SECRETS_KEYS_PREVIOUS`);
    const raw = Buffer.from(rest.slice(colon + 1), 'base64');
    const decipher = createDecipheriv('aes-256-gcm', key, raw.subarray(0, 12));
    decipher.setAAD(Buffer.from(context));
    decipher.setAuthTag(raw.subarray(12, 28));
    return Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]).toString('utf8');
  }

  /** The id of the key new secrets are sealed with. */
  get currentKeyId(): string {
    return this.keyring.current.id;
  }
}

/** Where a webhook signing secret belongs: the associated data of its ciphertext. */
export function secretContext(tenantId: string, triggerId: string, secretId: string): string {
  return `${tenantId}/${triggerId}/${secretId}`;
}

/** `<id>:<base64 of 32 bytes>`: the `SECRETS_KEY` format. */
export const SECRETS_KEY_FORMAT = /^([A-Za-z0-9_-]{1,32}):([A-Za-z0-9+/]{43}=)$/;

/** Reads a key in the `SECRETS_KEY` format. @throws Error when it is not in that format. */
export function parseSecretsKey(text: string): SecretKey {
  const m = SECRETS_KEY_FORMAT.exec(text.trim());
  if (!m) throw new Error('a secrets key must be <key id>:<base64 of 32 bytes>');
  return { id: m[1], key: Buffer.from(m[2], 'base64') };
}

/** A fresh key in the `SECRETS_KEY` format, `<id>:<base64 of 32 bytes>`. */
export function newSecretsKey(id = `k${Date.now().toString(36)}`): string {
  return `${id}:${randomBytes(32).toString('base64')}`;
}
