// Writes the Grafana dashboards defined in @rechargeflow/observability (dashboards.ts) into
// docker/grafana/dashboards/*.json, the files Grafana provisions.
//   node tools/tooling/src/dashboards.ts          write the JSON files (npm run dashboards)
//   node tools/tooling/src/dashboards.ts --check  exit 1 when a file is not what the source makes
import { readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { DASHBOARDS, dashboardText } from '@rechargeflow/observability';
import { REPO_ROOT } from '@rechargeflow/testkit';

const DASHBOARD_DIR = resolve(REPO_ROOT, 'docker/grafana/dashboards');
const check = process.argv.includes('--check');
let stale = 0;
for (const spec of DASHBOARDS) {
  const path = resolve(DASHBOARD_DIR, spec.file);
  const text = dashboardText(spec);
  if (check) {
    let current = '';
    try {
      current = readFileSync(path, 'utf8');
    } catch {}
    if (current !== text) {
      stale += 1;
      process.stderr.write(`dashboards: ${spec.file} differs from its source (run npm run dashboards)\n`);
    }
  } else {
    writeFileSync(path, text);
    process.stdout.write(`dashboards: wrote docker/grafana/dashboards/${spec.file}\n`);
  }
}
if (stale > 0) process.exit(1);
