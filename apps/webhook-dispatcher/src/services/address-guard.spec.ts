import { AddressGuard, BlockedAddressError } from './address-guard';

/** The guard at delivery; the ranges themselves are the AddressPolicy's, tested in libs/address-policy. */
describe('AddressGuard', () => {
  const guard = new AddressGuard([]);

  it('names the range, its CIDR and what it is', () => {
    expect(guard.rangeOf('169.254.169.254')).toBe('169.254.0.0/16 link-local (cloud metadata lives here)');
    expect(guard.rangeOf('8.8.8.8')).toBeNull();
  });

  it('lets the allow-list through and nothing beside it', () => {
    const local = new AddressGuard(['127.0.0.0/8', '::1/128']);
    expect(local.rangeOf('127.0.0.1')).toBeNull();
    expect(local.rangeOf('::1')).toBeNull();
    expect(local.rangeOf('10.0.0.1')).toContain('private-use');
    expect(local.rangeOf('169.254.169.254')).toContain('link-local');
  });

  it('checks every address a name resolves to, and IP literals without resolving', async () => {
    await expect(guard.check(new URL('http://localhost:1/x'))).rejects.toBeInstanceOf(BlockedAddressError);
    await expect(guard.check(new URL('http://[fe80::1]/x'))).rejects.toThrow('link-local');
    expect(guard.check(new URL('http://93.184.215.14/x'))).toBeUndefined();
  });

  it('refuses at connection time through its lookup', (done) => {
    guard.lookup('localhost', {}, (err) => {
      expect(err).toBeInstanceOf(BlockedAddressError);
      done();
    });
  });
});
