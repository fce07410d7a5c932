import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from '@jest/globals';
import { parse } from 'yaml';
import * as z from 'zod';
import { qualifiedScope, SCOPES } from '../../contract/roles';
import { defineRoute, requires } from '../../contract/route';
import { routeList } from '../../contract/routes';
import { OPENAPI_FILE, renderOpenApi, staleness } from '../../scripts/openapi';
import { synthStage } from '../support/cdk';

type JsonObject = { [key: string]: unknown };

interface Operation {
  readonly operationId: string;
  readonly security: ReadonlyArray<Record<string, readonly string[]>>;
  readonly parameters?: ReadonlyArray<{ name: string; in: string; required: boolean }>;
  readonly requestBody?: { content: Record<string, unknown> };
  readonly responses: Record<string, JsonObject>;
  readonly 'x-citadel-min-role'?: string;
  readonly 'x-citadel-machines': boolean;
  readonly 'x-citadel-machine-security'?: ReadonlyArray<Record<string, readonly string[]>>;
}

interface Document {
  readonly openapi: string;
  readonly info: { readonly version: string };
  readonly paths: Record<string, Record<string, Operation>>;
  readonly components: Record<string, Record<string, JsonObject>>;
}

const HTTP_METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];

const committed = readFileSync(OPENAPI_FILE, 'utf8');
const doc = parse(committed) as Document;

/** Every operation in the document, flattened. */
const operations = Object.entries(doc.paths).flatMap(([path, item]) =>
  Object.entries(item).map(([method, op]) => ({ method: method.toUpperCase(), path, op })),
);

/** The scopes an operation's `security` alternatives admit (each alternative is one scope). */
const scopesOf = (security: Operation['security']): string[] =>
  security.flatMap((requirement) => requirement.cognito ?? []).sort();

const sortedStrings = (values: Iterable<string>): string[] => [...values].sort();

describe('docs/openapi.yaml', () => {
  it('is what scripts/openapi.ts generates from the route table now', () => {
    // Fails (with a diff) when a route, schema or package version changed without `npm run openapi`.
    expect(staleness(committed, renderOpenApi())).toBeUndefined();
  });

  it('goes stale when a route is added to the table without regenerating', () => {
    const added = defineRoute({
      operationId: 'listFileVersions',
      method: 'GET',
      path: '/v1/admin/zz-probe',
      entry: 'lambda/files/list-files.ts',
      summary: 'Not a real route: proves the staleness check sees table changes.',
      auth: requires('user', ['files.read']),
      response: { status: 200, schema: z.strictObject({ items: z.array(z.string()) }) },
    });
    const report = staleness(committed, renderOpenApi([...routeList, added]));
    expect(report).toContain('npm run openapi');
    expect(report).toContain('+   /v1/admin/zz-probe:');
    expect(report).toContain('+       operationId: listFileVersions');
  });

  it('is OpenAPI 3.1.0 with the package version, both servers and both security schemes', () => {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
      version: string;
    };
    expect(doc.openapi).toBe('3.1.0');
    expect(doc.info.version).toBe(pkg.version);
    const schemes = doc.components.securitySchemes as Record<string, JsonObject>;
    expect(Object.keys(schemes).sort()).toEqual(['apiKey', 'cognito']);
    expect(schemes.apiKey).toMatchObject({ type: 'apiKey', in: 'header', name: 'x-api-key' });
    const flows = schemes.cognito?.flows as Record<string, { scopes: Record<string, string> }>;
    expect(Object.keys(flows).sort()).toEqual(['authorizationCode', 'clientCredentials']);
    expect(Object.keys(flows.authorizationCode?.scopes ?? {}).sort()).toEqual(
      SCOPES.map(qualifiedScope).sort(),
    );
    // Every scope an operation uses is declared by the scheme.
    const used = new Set(operations.flatMap(({ op }) => scopesOf(op.security)));
    expect([...used].filter((s) => !(s in (flows.authorizationCode?.scopes ?? {})))).toEqual([]);
  });

  it('has every route exactly once, with its method and operationId, and nothing else', () => {
    for (const item of Object.values(doc.paths)) {
      for (const key of Object.keys(item)) expect(HTTP_METHODS).toContain(key);
    }
    const documented = operations.map(({ method, path, op }) => `${method} ${path} ${op.operationId}`).sort();
    const table = routeList.map((r) => `${r.method} ${r.path} ${r.operationId}`).sort();
    expect(documented).toEqual(table);
    expect(new Set(operations.map(({ op }) => op.operationId)).size).toBe(operations.length);
  });

  it.each(routeList.map((r) => [r.operationId, r] as const))(
    '%s: security, role, machine access, parameters, body and responses follow the route',
    (_id, route) => {
      const op = doc.paths[route.path]?.[route.method.toLowerCase()];
      if (!op) throw new Error(`${route.method} ${route.path} is missing from the document`);
      const auth = route.auth;
      if (auth.kind === 'public') {
        expect(op.security).toEqual([]);
        expect(op['x-citadel-min-role']).toBeUndefined();
        expect(op['x-citadel-machine-security']).toBeUndefined();
      } else {
        expect(op.security).toEqual(auth.scopes.map((s) => ({ cognito: [qualifiedScope(s)] })));
        expect(op['x-citadel-min-role']).toBe(auth.minRole);
        if (auth.machines) {
          expect(op['x-citadel-machine-security']).toEqual(
            auth.scopes.map((s) => ({ cognito: [qualifiedScope(s)], apiKey: [] })),
          );
        } else {
          expect(op['x-citadel-machine-security']).toBeUndefined();
        }
      }
      expect(op['x-citadel-machines']).toBe(auth.kind === 'public' ? auth.machines !== false : auth.machines);

      // Parameters: the path's, then the query schema's, each required exactly when zod requires it.
      const shapeOf = (schema: unknown) =>
        (
          schema as
            | { shape?: Record<string, { safeParse: (v: unknown) => { success: boolean } }> }
            | undefined
        )?.shape ?? {};
      const expected = [
        ...Object.keys(shapeOf(route.params)).map((name) => ({ name, in: 'path', required: true })),
        ...Object.entries(shapeOf(route.query)).map(([name, s]) => ({
          name,
          in: 'query',
          required: !s.safeParse(undefined).success,
        })),
      ];
      const actual = (op.parameters ?? []).map((p) => ({ name: p.name, in: p.in, required: p.required }));
      const key = (p: { name: string; in: string }) => `${p.in}:${p.name}`;
      expect([...actual].sort((a, b) => key(a).localeCompare(key(b)))).toEqual(
        [...expected].sort((a, b) => key(a).localeCompare(key(b))),
      );

      if (route.body) expect(Object.keys(op.requestBody?.content ?? {})).toEqual(['application/json']);
      else expect(op.requestBody).toBeUndefined();

      const success = op.responses[String(route.response.status)];
      expect(success).toBeDefined();
      if (route.response.status === 204) expect(success?.content).toBeUndefined();
      else expect(Object.keys((success?.content ?? {}) as JsonObject)).toEqual(['application/json']);
      expect(Object.keys((success?.headers ?? {}) as JsonObject)).toEqual(
        expect.arrayContaining(['x-request-id', 'Strict-Transport-Security', 'Content-Security-Policy']),
      );

      // Every other status is a problem+json response.
      const errors = Object.entries(op.responses).filter(([s]) => s !== String(route.response.status));
      expect(errors.map(([s]) => s)).toEqual(expect.arrayContaining(['400', '403', '429', '500']));
      if (auth.kind === 'authenticated') expect(errors.map(([s]) => s)).toContain('401');
      if (route.body) expect(errors.map(([s]) => s)).toEqual(expect.arrayContaining(['413', '415']));
      for (const [, response] of errors) {
        const target = resolve(String(response.$ref)) as JsonObject | undefined;
        expect(Object.keys((target?.content ?? {}) as JsonObject)).toContain('application/problem+json');
      }
    },
  );

  it('resolves every $ref and uses every component', () => {
    const refs: string[] = [];
    const walk = (value: unknown): void => {
      if (Array.isArray(value)) value.forEach(walk);
      else if (value && typeof value === 'object') {
        for (const [k, v] of Object.entries(value)) {
          if (k === '$ref') refs.push(String(v));
          else walk(v);
        }
      }
    };
    walk(doc);
    expect(refs.length).toBeGreaterThan(routeList.length);
    expect(refs.filter((ref) => resolve(ref) === undefined)).toEqual([]);

    const targets = new Set(refs.map((ref) => ref.split('/').slice(0, 4).join('/')));
    const unused = ['schemas', 'responses', 'headers'].flatMap((section) =>
      Object.keys(doc.components[section] ?? {})
        .map((name) => `#/components/${section}/${name}`)
        .filter((pointer) => !targets.has(pointer)),
    );
    expect(unused).toEqual([]);
  });
});

/** Resolves a local JSON Pointer reference against the document; undefined when it does not. */
function resolve(ref: string): unknown {
  if (!ref.startsWith('#/')) return undefined;
  let node: unknown = doc;
  for (const raw of ref.slice(2).split('/')) {
    const token = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (!node || typeof node !== 'object' || !Object.hasOwn(node, token)) return undefined;
    node = (node as JsonObject)[token];
  }
  return node;
}

// ---------------------------------------------------------------------------------------------------------

interface CfnResource {
  readonly Type: string;
  readonly Properties?: JsonObject;
}

interface DeployedMethod {
  readonly method: string;
  readonly path: string;
  readonly authorizationType: string;
  readonly scopes: string[];
  readonly apiKeyRequired: boolean;
}

const logicalIdOf = (value: unknown): string => {
  const v = value as { Ref?: string; 'Fn::GetAtt'?: [string, string] };
  if (v.Ref) return v.Ref;
  if (v['Fn::GetAtt']?.[1] === 'RootResourceId') return `${v['Fn::GetAtt'][0]}#root`;
  throw new Error(`unexpected reference ${JSON.stringify(value)}`);
};

/** (method, path, authorization) of each method of each RestApi, keyed by the API's name. */
function deployedMethods(resources: Record<string, CfnResource>): Map<string, DeployedMethod[]> {
  const resourcePath = (id: string): string => {
    if (id.endsWith('#root')) return '';
    const resource = resources[id];
    if (resource?.Type !== 'AWS::ApiGateway::Resource') throw new Error(`${id} is not an API resource`);
    return `${resourcePath(logicalIdOf(resource.Properties?.ParentId))}/${String(resource.Properties?.PathPart)}`;
  };
  const apis = new Map<string, DeployedMethod[]>();
  const names = new Map<string, string>();
  for (const [id, r] of Object.entries(resources)) {
    if (r.Type === 'AWS::ApiGateway::RestApi') {
      names.set(id, String(r.Properties?.Name));
      apis.set(String(r.Properties?.Name), []);
    }
  }
  for (const r of Object.values(resources)) {
    if (r.Type !== 'AWS::ApiGateway::Method') continue;
    const p = r.Properties ?? {};
    const method = String(p.HttpMethod);
    if (method === 'OPTIONS' || method === 'ANY') continue;
    const api = names.get(logicalIdOf(p.RestApiId));
    if (!api) throw new Error(`method ${method} belongs to no RestApi`);
    const resourceId = logicalIdOf(p.ResourceId);
    // A method on the root resource points at the RestApi itself; check it is this method's API.
    if (resourceId.endsWith('#root') && names.get(resourceId.slice(0, -'#root'.length)) !== api) {
      throw new Error(`method ${method} sits on another API's root`);
    }
    apis.get(api)?.push({
      method,
      path: resourcePath(resourceId) || '/',
      authorizationType: String(p.AuthorizationType ?? 'NONE'),
      scopes: ((p.AuthorizationScopes as string[] | undefined) ?? []).slice().sort(),
      apiKeyRequired: p.ApiKeyRequired === true,
    });
  }
  return apis;
}

const describeMethod = (m: DeployedMethod): string =>
  `${m.method} ${m.path} auth=${m.authorizationType} scopes=[${m.scopes.join(' ')}] apiKey=${m.apiKeyRequired}`;

describe('docs/openapi.yaml and the deployed RestApis (dev stage)', () => {
  let apis: Map<string, DeployedMethod[]>;
  let stage: string;

  beforeAll(() => {
    const synthesized = synthStage('dev');
    stage = synthesized.config.stage;
    apis = deployedMethods(synthesized.templates.api.toJSON().Resources as Record<string, CfnResource>);
  });

  /** What the document says API Gateway should deploy for `ops` on an API that does (not) require keys. */
  const expectedMethods = (ops: typeof operations, apiKeys: boolean): string[] =>
    ops
      .map(({ method, path, op }) => {
        const authenticated = op.security.length > 0;
        return describeMethod({
          method,
          path,
          authorizationType: authenticated ? 'COGNITO_USER_POOLS' : 'NONE',
          scopes: scopesOf(op.security),
          apiKeyRequired: authenticated && apiKeys,
        });
      })
      .sort();

  it('builds exactly two RestApis: the public one and the machine one', () => {
    expect(sortedStrings(apis.keys())).toEqual([`citadel-${stage}`, `citadel-${stage}-machine`]);
  });

  it('the public API serves every documented operation, with its Cognito scopes and no API key', () => {
    const deployed = (apis.get(`citadel-${stage}`) ?? []).map(describeMethod).sort();
    expect(deployed).toEqual(expectedMethods(operations, false));
  });

  it('the machine API serves exactly the x-citadel-machines operations, with API keys on authenticated ones', () => {
    const machineOps = operations.filter(({ op }) => op['x-citadel-machines'] === true);
    // The split is real: some operations stay off the machine API, and every public one is on it but those the
    // route table keeps for people (account recovery).
    expect(machineOps.length).toBeGreaterThan(0);
    expect(machineOps.length).toBeLessThan(operations.length);
    expect(
      operations
        .filter(({ op }) => op.security.length === 0 && !op['x-citadel-machines'])
        .map(({ op }) => op.operationId),
    ).toEqual(
      routeList
        .filter((r) => r.auth.kind === 'public' && r.auth.machines === false)
        .map((r) => r.operationId),
    );
    const deployed = (apis.get(`citadel-${stage}-machine`) ?? []).map(describeMethod).sort();
    expect(deployed).toEqual(expectedMethods(machineOps, true));
    // The document's own statement of the machine requirement agrees: the API key joins every alternative.
    for (const { op } of machineOps.filter(({ op }) => op.security.length > 0)) {
      expect(op['x-citadel-machine-security']).toEqual(op.security.map((r) => ({ ...r, apiKey: [] })));
    }
  });

  it('agrees with the route table on which routes machines reach', () => {
    const fromTable = routeList
      .filter((r) => (r.auth.kind === 'public' ? r.auth.machines !== false : r.auth.machines))
      .map((r) => `${r.method} ${r.path}`)
      .sort();
    const fromApi = (apis.get(`citadel-${stage}-machine`) ?? []).map((m) => `${m.method} ${m.path}`).sort();
    expect(fromApi).toEqual(fromTable);
  });
});
