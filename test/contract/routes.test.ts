import { existsSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { pathParameterNames } from '../../contract/route';
import { routeList } from '../../contract/routes';
import { compileRoutes, matchRoute } from '../../local/gateway';

const ROOT = path.resolve(import.meta.dirname, '../..');

describe('the route table', () => {
  it('has unique operation ids and unique method + path pairs', () => {
    expect(new Set(routeList.map((r) => r.operationId)).size).toBe(routeList.length);
    expect(new Set(routeList.map((r) => `${r.method} ${r.path}`)).size).toBe(routeList.length);
  });

  it.each(routeList.map((r) => [r.operationId, r] as const))(
    '%s: its entry exports a handler built from this very route',
    async (_id, route) => {
      const file = path.join(ROOT, route.entry);
      expect(existsSync(file)).toBe(true);
      const mod = (await import(file)) as { handler?: { route?: unknown } };
      expect(typeof mod.handler).toBe('function');
      expect(mod.handler?.route).toBe(route);
    },
  );

  it.each(routeList.map((r) => [r.operationId, r] as const))(
    '%s: path parameters and the params schema agree',
    (_id, route) => {
      const names = pathParameterNames(route.path);
      const shape = (route.params as unknown as { shape?: Record<string, unknown> } | undefined)?.shape ?? {};
      expect(Object.keys(shape).sort()).toEqual([...names].sort());
    },
  );

  it('is what the local server routes', () => {
    const compiled = compileRoutes(routeList);
    for (const route of routeList) {
      const concretePath = route.path.replace(/\{[^}]+\}/g, 'x1');
      const match = matchRoute(compiled, route.method, concretePath);
      expect(match.kind).toBe('route');
      if (match.kind === 'route') expect(match.compiled.route).toBe(route);
    }
  });
});
