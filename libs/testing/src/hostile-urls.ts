/**
 * Internal webhook URLs a hostile tenant tries, each with the special range it falls in: one
 * table for the address policy's own spec and the API's save-time refusal.
 */
export const INTERNAL_WEBHOOK_URLS: [url: string, cidr: string][] = [
  ['http://10.0.0.1/', '10.0.0.0/8'],
  ['http://169.254.169.254/latest/meta-data/', '169.254.0.0/16'],
  ['http://[::ffff:10.0.0.1]/', '10.0.0.0/8'],
  ['http://[fd00::1]/', 'fc00::/7'],
  ['http://[fe80::1]/', 'fe80::/10'],
  ['http://100.64.0.1/', '100.64.0.0/10'],
  ['http://192.168.1.1/', '192.168.0.0/16'],
  ['http://0.0.0.0/', '0.0.0.0/8'],
  ['http://[::]/', '::/96'],
  ['http://0xa9fea9fe/', '169.254.0.0/16'],
  ['http://2852039166/', '169.254.0.0/16'],
];
