/**
 * A configuration variable is missing or malformed. The message names every offending variable,
 * so an app that stops at boot says exactly what to fix.
 */
export class ConfigError extends Error {
  constructor(readonly problems: { variable: string; message: string }[]) {
    super('Invalid configuration: ' + problems.map((p) => `${p.variable}: ${p.message}`).join('; '));
    this.name = 'ConfigError';
  }
}
