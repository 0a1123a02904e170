/**
 * Throwaway certificates made at test time with the `openssl` command line:
 * a CA, certificates it signs (for TLS servers and clients), and self-signed
 * ones nobody trusts. Keys are P-256 (quick to make); everything is valid
 * for a day and lives in the given directory.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface TestCert {
  keyFile: string;
  certFile: string;
  /** PEM text of the key and the certificate. */
  key: string;
  cert: string;
}

export interface TestPki {
  /** The CA's certificate (PEM file): what a client trusts. */
  caFile: string;
  /** A certificate signed by the CA, for these subjectAltNames (e.g. `IP:127.0.0.1`, `DNS:localhost`). */
  issue(name: string, altNames: string[]): TestCert;
  /** A self-signed certificate for these subjectAltNames, signed by no CA anyone trusts. */
  selfSigned(name: string, altNames: string[]): TestCert;
}

/** Whether the `openssl` command line can be run here. */
export function hasOpenssl(): boolean {
  try {
    execFileSync('openssl', ['version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Makes a CA in `dir` (needs the `openssl` command line: see hasOpenssl). */
export function createTestPki(dir: string): TestPki {
  const ssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'ignore' });
  const newKey = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  const read = (name: string): TestCert => {
    const keyFile = join(dir, `${name}.key`);
    const certFile = join(dir, `${name}.pem`);
    return { keyFile, certFile, key: readFileSync(keyFile, 'utf8'), cert: readFileSync(certFile, 'utf8') };
  };
  ssl('req', '-x509', ...newKey, '-days', '1', '-subj', '/CN=mcpq-test-ca', '-keyout', 'ca.key', '-out', 'ca.pem');
  return {
    caFile: join(dir, 'ca.pem'),
    issue(name, altNames) {
      writeFileSync(join(dir, `${name}.ext`), `subjectAltName=${altNames.join(',')}\n`);
      ssl('req', ...newKey, '-subj', `/CN=${name}`, '-keyout', `${name}.key`, '-out', `${name}.csr`);
      ssl(
        'x509',
        '-req',
        '-in',
        `${name}.csr`,
        '-CA',
        'ca.pem',
        '-CAkey',
        'ca.key',
        '-CAcreateserial',
        '-days',
        '1',
        '-extfile',
        `${name}.ext`,
        '-out',
        `${name}.pem`,
      );
      return read(name);
    },
    selfSigned(name, altNames) {
      ssl(
        'req',
        '-x509',
        ...newKey,
        '-days',
        '1',
        '-subj',
        `/CN=${name}`,
        '-addext',
        `subjectAltName=${altNames.join(',')}`,
        '-keyout',
        `${name}.key`,
        '-out',
        `${name}.pem`,
      );
      return read(name);
    },
  };
}
