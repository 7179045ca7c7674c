// Integration tests talk to real servers; their waits are bounded by waitFor, not by this.
jest.setTimeout(120_000);
