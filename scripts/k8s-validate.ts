/**
 * npm run -s k8s:validate: renders every overlay under deploy/k8s/overlays with kustomize and
 * validates each resource offline against the Kubernetes API schemas (kubernetes-models, and
 * @kubernetes-models/keda for KEDA's resources), failing on any error or unknown kind.
 * KUSTOMIZE names the kustomize binary (deploy/k8s/install-kustomize.sh builds one).
 */
import { execFileSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import * as k8s from 'kubernetes-models';
import * as keda from '@kubernetes-models/keda';
import { repoRoot } from '@triggers/local-infra';

type Model = { new (data: object): { validate(): void } };

/** `apps/v1` + `Deployment` → the model class, from the packages' group/version namespaces. */
function modelFor(apiVersion: string, kind: string): Model | undefined {
  const [group, version] = apiVersion.includes('/') ? apiVersion.split('/') : ['', apiVersion];
  const key = (g: string) => g.replace(/[.-](\w)/g, (_, c: string) => c.toUpperCase());
  for (const pkg of [k8s, keda] as unknown as Record<string, Record<string, unknown>>[]) {
    const byGroup = (group === '' ? pkg[version] : pkg[key(group)]?.[version]) as Record<string, Model> | undefined;
    if (byGroup?.[kind]) return byGroup[kind];
  }
  return undefined;
}

function main(): void {
  const root = repoRoot();
  const kustomize = process.env.KUSTOMIZE ?? join(root, '.infra/install/kustomize/kustomize');
  const overlaysDir = join(root, 'deploy/k8s/overlays');
  let failures = 0;
  for (const overlay of readdirSync(overlaysDir).sort()) {
    const rendered = execFileSync(kustomize, ['build', join(overlaysDir, overlay)], { encoding: 'utf8' });
    const docs = parseAllDocuments(rendered).map((d) => d.toJS() as { apiVersion: string; kind: string; metadata: { name: string } });
    for (const doc of docs) {
      const label = `${overlay}: ${doc.kind} ${doc.metadata?.name}`;
      const Model = modelFor(doc.apiVersion, doc.kind);
      if (!Model) {
        failures++;
        process.stderr.write(`✗ ${label}: no schema for ${doc.apiVersion} ${doc.kind}\n`);
        continue;
      }
      try {
        new Model(doc).validate();
      } catch (err) {
        failures++;
        process.stderr.write(`✗ ${label}: ${(err as Error).message}\n`);
      }
    }
    process.stdout.write(`${overlay}: ${docs.length} resources rendered and validated\n`);
  }
  if (failures > 0) {
    process.stderr.write(`${failures} invalid resource(s)\n`);
    process.exit(1);
  }
}

main();
