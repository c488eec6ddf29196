import { readdirSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DASHBOARDS, dashboardText, panelQueries, renderDashboard } from './dashboards.ts';

const DIR = resolve(import.meta.dirname, '../../../docker/grafana/dashboards');

describe('Grafana dashboards', () => {
  it('the provisioned JSON files are exactly what the source makes (run npm run dashboards)', () => {
    expect(readdirSync(DIR).sort()).toEqual(DASHBOARDS.map((d) => d.file).sort());
    for (const spec of DASHBOARDS) {
      expect(readFileSync(resolve(DIR, spec.file), 'utf8'), spec.file).toBe(dashboardText(spec));
    }
  });

  it('has the three dashboards, every panel on the provisioned datasource, laid out on the grid', () => {
    expect(DASHBOARDS.map((d) => d.title)).toEqual([
      'Rechargeflow / Overview',
      'Rechargeflow / Queues and workers',
      'Rechargeflow / Providers',
    ]);
    for (const spec of DASHBOARDS) {
      const model = renderDashboard(spec) as {
        uid: string;
        panels: {
          id: number;
          title: string;
          description: string;
          datasource: { uid: string };
          gridPos: { x: number; w: number };
          targets: { expr: string; refId: string }[];
        }[];
      };
      expect(model.uid).toMatch(/^[a-z0-9-]{1,40}$/);
      expect(new Set(model.panels.map((p) => p.id)).size).toBe(model.panels.length);
      expect(new Set(model.panels.map((p) => p.title)).size).toBe(model.panels.length);
      for (const panel of model.panels) {
        expect(panel.datasource.uid).toBe('prometheus');
        expect(panel.description.length).toBeGreaterThan(10);
        expect(panel.gridPos.x + panel.gridPos.w).toBeLessThanOrEqual(24);
        expect(panel.targets.length).toBeGreaterThan(0);
        for (const target of panel.targets) expect(target.expr).toMatch(/rechargeflow_|up\{/);
      }
    }
  });

  it('hands out every query with Grafana variables replaced', () => {
    const queries = panelQueries();
    expect(queries.length).toBe(DASHBOARDS.flatMap((d) => d.panels.flatMap((p) => p.targets)).length);
    for (const { expr } of queries) expect(expr).not.toContain('$');
  });
});
