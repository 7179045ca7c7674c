import { SecretBox, newSecretsKey, parseSecretsKey, secretContext } from './secret-box';

describe('SecretBox', () => {
  const oldKey = parseSecretsKey(newSecretsKey('k1'));
  const newKey = parseSecretsKey(newSecretsKey('k2'));
  const here = secretContext('acme', 'trg1', 'sec_1');

  it('seals so the plain text is nowhere in the result, and opens it again', () => {
    const box = new SecretBox({ current: oldKey, previous: [] });
    const plain = 'whsec_c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0';
    const sealed = box.seal(plain, here);
    expect(sealed).toMatch(/^enc:v1:k1:/);
    expect(sealed).not.toContain(plain);
    expect(sealed).not.toContain(plain.slice(6));
    expect(box.open(sealed, here)).toBe(plain);
    expect(box.seal(plain, here)).not.toBe(sealed); // a fresh IV each time
  });

  it('refuses a secret moved to another trigger, or altered', () => {
    const box = new SecretBox({ current: oldKey, previous: [] });
    const sealed = box.seal('whsec_x', here);
    expect(() => box.open(sealed, secretContext('acme', 'trg2', 'sec_1'))).toThrow();
    const altered = sealed.slice(0, -4) + (sealed.endsWith('AAAA') ? 'BBBB' : 'AAAA');
    expect(() => box.open(altered, here)).toThrow();
  });

  it('rotates: the new key seals, previous keys still open, a key it lacks is named', () => {
    const before = new SecretBox({ current: oldKey, previous: [] }).seal('whsec_old', here);
    const rotated = new SecretBox({ current: newKey, previous: [oldKey] });
    expect(rotated.open(before, here)).toBe('whsec_old');
    expect(rotated.seal('whsec_new', here)).toMatch(/^enc:v1:k2:/);
    expect(() => new SecretBox({ current: newKey, previous: [] }).open(before, here)).toThrow(/key "k1"/);
  });

  it('reads only keys of the SECRETS_KEY format', () => {
    expect(() => parseSecretsKey('k1:short')).toThrow();
    expect(parseSecretsKey(newSecretsKey('abc')).key).toHaveLength(32);
  });
});
