export * from './special-ranges';
export * from './address-policy';
