import { AddressGuard, BlockedAddressError } from './address-guard';

describe('AddressGuard', () => {
  const guard = new AddressGuard([]);

  it.each([
    ['127.0.0.1', 'loopback'],
    ['127.255.0.9', 'loopback'],
    ['::1', 'loopback'],
    ['::ffff:127.0.0.1', 'loopback'],
    ['10.0.0.1', 'private'],
    ['172.31.255.255', 'private'],
    ['192.168.0.10', 'private'],
    ['100.64.1.1', 'private'],
    ['fd12:3456::1', 'private'],
    ['169.254.169.254', 'link-local'],
    ['fe80::1', 'link-local'],
    ['224.0.0.251', 'multicast'],
    ['ff02::1', 'multicast'],
    ['0.0.0.0', 'unspecified'],
    ['::', 'unspecified'],
    ['255.255.255.255', 'reserved'],
    ['64:ff9b::a00:1', 'reserved'],
  ])('refuses %s as %s', (address, range) => {
    expect(guard.rangeOf(address)).toBe(range);
  });

  it.each(['8.8.8.8', '172.32.0.1', '2606:4700:4700::1111', '1.1.1.1'])('lets public %s through', (address) => {
    expect(guard.rangeOf(address)).toBeNull();
  });

  it('lets the allow-list through and nothing beside it', () => {
    const local = new AddressGuard(['127.0.0.0/8', '::1/128']);
    expect(local.rangeOf('127.0.0.1')).toBeNull();
    expect(local.rangeOf('::1')).toBeNull();
    expect(local.rangeOf('10.0.0.1')).toBe('private');
    expect(local.rangeOf('169.254.169.254')).toBe('link-local');
  });

  it('checks every address a name resolves to, and IP literals without resolving', async () => {
    await expect(guard.check(new URL('http://localhost:1/x'))).rejects.toBeInstanceOf(BlockedAddressError);
    await expect(guard.check(new URL('http://[fe80::1]/x'))).rejects.toThrow('a link-local address');
    expect(guard.check(new URL('http://93.184.215.14/x'))).toBeUndefined();
  });

  it('refuses at connection time through its lookup', (done) => {
    guard.lookup('localhost', {}, (err) => {
      expect(err).toBeInstanceOf(BlockedAddressError);
      done();
    });
  });
});
