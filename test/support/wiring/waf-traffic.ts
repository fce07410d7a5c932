/**
 * Citadel's largest legitimate traffic, and the abuse the web ACLs must still stop, as requests for the WAF model
 * (`waf-evaluator.ts`). API requests are produced by the real client library (`client/`) through a recording
 * `fetch` that answers as the API would, so bodies are the bytes the client sends; what the runtime adds on the
 * wire (Node's `user-agent: node`, checked on Node 20; a browser's headers) is added here. Cognito requests follow
 * the Cognito documentation (token endpoint form bodies, `x-amz-json-1.1` API calls); Cognito does not forward
 * usernames or passwords to WAF (developer guide, "Associate an AWS WAF web ACL with a user pool"), so the
 * modelled login form carries neither.
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { CitadelClient, clientCredentialsToken } from '../../../client/client';
import { citadelSignRequest } from '../../../client/uppy';
import { MAX_PARTS_PER_CALL, partCountFor, partSizeFor } from '../../../contract/api/uploads';
import type { StageConfig, StageName } from '../../../lib/config';
import type { AclDiscovery, ProtectedName } from './waf-acls';
import { type ProtectedResource, type Verdict, type WafRequest, WebAclModel } from './waf-evaluator';

const API = 'https://abcdef1234.execute-api.eu-west-1.amazonaws.com';
const USER_POOL_DOMAIN = 'https://citadel-prod-123456789012.auth.eu-west-1.amazoncognito.com';
const CHROME_UA =
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36';
const SDK_UA =
  'aws-sdk-js/3.1169.0 ua/2.1 os/Windows#10 lang/js md/browser#Chrome_131 api/cognito-identity-provider#3.1169.0';

const b64url = (n: number) => randomBytes(n).toString('base64url');
/** A Cognito access/ID token's shape: three base64url parts, about 1 KB. */
const accessToken = () => `eyJraWQiOi${b64url(60)}.${b64url(620)}.${b64url(256)}`;
/** A Cognito refresh token's shape: a five-part JWE, about 1.8 KB. */
const refreshToken = () =>
  `eyJjdHkiOiJKV1QiLCJlbmMiOiJBMjU2R0NNIiwiYWxnIjoiUlNBLU9BRVAifQ.${b64url(256)}.${b64url(12)}.${b64url(1000)}.${b64url(16)}`;
const clientId = () => randomBytes(13).toString('hex').slice(0, 26);
/** An API Gateway API key: 40 letters and digits. */
const apiKey = () =>
  randomBytes(30)
    .toString('base64')
    .replace(/[^A-Za-z0-9]/g, 'x')
    .slice(0, 40);
/** S3's ETag for a part: its MD5 in hex, in double quotes. */
const etag = (n: number) => `"${createHash('md5').update(`part ${n}`).digest('hex')}"`;

/** Headers a runtime adds to what the client library sets. */
const NODE_FETCH_HEADERS = {
  'user-agent': 'node',
  accept: '*/*',
  'accept-language': '*',
  'sec-fetch-mode': 'cors',
  'accept-encoding': 'gzip, deflate',
};
/** What Chrome adds to a page's `fetch` to the API from `origin`. */
export const browserHeaders = (origin: string) => ({
  'user-agent': CHROME_UA,
  'accept-language': 'en-GB,en;q=0.9',
  'accept-encoding': 'gzip, deflate, br, zstd',
  origin,
  referer: `${origin}/`,
  'sec-fetch-mode': 'cors',
  'sec-fetch-site': 'cross-site',
});

/** A browser on the app's pages talking to the Cognito domain (the user pool's traffic). */
const COGNITO_PAGE_HEADERS = browserHeaders('https://app.citadel.example.com');

interface Captured {
  readonly method: string;
  readonly path: string;
  readonly query?: string;
  readonly headers: Record<string, string>;
  readonly body?: string;
}

/**
 * Runs `use` with a `fetch` that records each request and answers with `respond`'s JSON (status 200), so the
 * client library behaves as against the API.
 */
async function capture(
  use: (fetch: typeof globalThis.fetch) => Promise<unknown>,
  respond: (request: Captured) => unknown,
): Promise<Captured[]> {
  const seen: Captured[] = [];
  const recording: typeof globalThis.fetch = async (input, init) => {
    const req = new Request(input, init);
    const url = new URL(req.url);
    const body = req.method === 'GET' ? undefined : await req.text();
    const headers: Record<string, string> = { host: url.host };
    req.headers.forEach((v, k) => {
      headers[k] = v;
    });
    if (body !== undefined) headers['content-length'] = String(Buffer.byteLength(body));
    const captured = {
      method: req.method,
      path: url.pathname,
      query: url.search ? url.search.slice(1) : undefined,
      headers,
      body: body || undefined,
    };
    seen.push(captured);
    return new Response(JSON.stringify(respond(captured)), {
      status: 200,
      headers: { 'content-type': 'application/json' },
    });
  };
  await use(recording);
  return seen;
}

const iso = (ms: number) => new Date(ms).toISOString();
const file = (id: string, size: number) => ({
  id,
  ownerId: 'user-1',
  filename: 'archive.tar',
  contentType: 'application/x-tar',
  size,
  sha256: null,
  state: 'scanning',
  createdAt: iso(0),
  updatedAt: iso(0),
  completedAt: iso(0),
  scannedAt: null,
  failureReason: null,
});

const asRequest = (
  c: Captured,
  at: number,
  ip: string,
  what: string,
  runtime: Record<string, string>,
): WafRequest => ({
  at,
  ip,
  method: c.method,
  path: c.path,
  query: c.query,
  headers: { ...runtime, ...c.headers },
  body: c.body,
  what,
});

/** The largest upload a stage allows, and its parts. */
export function largestUpload(config: StageConfig) {
  const size = config.uploads.maxUploadBytes;
  const partSize = partSizeFor(size);
  return { size, partSize, partCount: partCountFor(size, partSize) };
}

/**
 * The API calls of the largest upload through the CLI's client (`POST /v1/uploads`, part URLs in batches of
 * `MAX_PARTS_PER_CALL`, the complete call naming every part's ETag), on the public or machine API, as the real
 * client sends them.
 */
export async function largestUploadCalls(
  stage: StageName,
  config: StageConfig,
  via: 'public' | 'machine',
): Promise<WafRequest[]> {
  const { size, partCount } = largestUpload(config);
  const id = randomUUID();
  const key = via === 'machine' ? apiKey() : undefined;
  const calls = await capture(
    async (fetch) => {
      const client = new CitadelClient({
        baseUrl: `${API}/${stage}`,
        token: accessToken(),
        apiKey: key,
        fetch,
      });
      await client.createUpload({ filename: 'archive.tar', size, contentType: 'application/x-tar' });
      for (let first = 1; first <= partCount; first += MAX_PARTS_PER_CALL) {
        const batch = Array.from(
          { length: Math.min(MAX_PARTS_PER_CALL, partCount - first + 1) },
          (_, i) => first + i,
        );
        await client.signParts(id, batch);
      }
      await client.completeUpload(
        id,
        Array.from({ length: partCount }, (_, i) => ({ partNumber: i + 1, etag: etag(i + 1) })),
      );
    },
    (c) => {
      if (c.path.endsWith('/complete')) return file(id, size);
      if (c.path.endsWith('/parts')) {
        const numbers = (JSON.parse(c.body ?? '{}') as { partNumbers: number[] }).partNumbers;
        return {
          parts: numbers.map((n) => ({
            partNumber: n,
            url: `https://uploads.s3.amazonaws.com/x?partNumber=${n}`,
            size: 1,
          })),
          expiresAt: iso(900_000),
        };
      }
      return {
        id,
        uploadId: b64url(96),
        key: `uploads/user-1/${id}`,
        partSize: partSizeFor(size),
        partCount,
        expiresAt: iso(86_400_000),
      };
    },
  );
  return calls.map((c, i) =>
    asRequest(
      c,
      i * 2,
      '198.51.100.20',
      `${c.method} ${c.path} (${Buffer.byteLength(c.body ?? '')} B)`,
      NODE_FETCH_HEADERS,
    ),
  );
}

/**
 * A browser's Uppy 6 signing traffic (`POST /v1/uploads/sign`, part URLs in the helper's batches) for the largest
 * upload at 1 Gbit/s, plus the page polling the file every 5 s, from one address, on a page at `origin`. Driven
 * through the real helper.
 */
export async function uppySigningTraffic(
  stage: StageName,
  config: StageConfig,
  origin: string,
): Promise<WafRequest[]> {
  const { size, partSize, partCount } = largestUpload(config);
  const partSeconds = partSize / (1e9 / 8);
  let clock = 0;
  const stamps: number[] = [];
  const uploadId = b64url(96);
  const id = randomUUID();
  const key = `uploads/user-1/${id}`;
  const calls = await capture(
    async (fetch) => {
      const recordingClock: typeof globalThis.fetch = (input, init) => {
        stamps.push(clock);
        return fetch(input, init);
      };
      const uppy = citadelSignRequest({
        apiUrl: `${API}/${stage}`,
        token: accessToken(),
        fetch: recordingClock,
        now: () => clock * 1000,
      });
      const placeholder = uppy.generateObjectKey({
        id: 'uppy-archive',
        name: 'archive.tar',
        size,
        type: 'application/x-tar',
      });
      const created = await uppy.signRequest({ method: 'POST', key: placeholder });
      for (let n = 1; n <= partCount; n++) {
        clock = (n - 1) * partSeconds;
        await uppy.signRequest({ method: 'PUT', key: created.key ?? key, uploadId, partNumber: n });
      }
      clock = partCount * partSeconds;
      await uppy.signRequest({ method: 'POST', key: created.key ?? key, uploadId });
    },
    (c) => {
      const body = JSON.parse(c.body ?? '{}') as { operation: string; partNumbers?: number[] };
      const signed = {
        method: body.operation === 'create' || body.operation === 'complete' ? 'POST' : 'PUT',
        url: 'https://uploads.s3.amazonaws.com/x',
        headers: {},
        key,
        fileId: id,
        expiresAt: iso(clock * 1000 + 900_000),
      };
      if (body.operation !== 'parts') return signed;
      const parts = (body.partNumbers ?? []).map((n) => ({
        partNumber: n,
        url: `https://uploads.s3.amazonaws.com/x?partNumber=${n}`,
        size: partSize,
      }));
      return { ...signed, size: partSize, url: parts[0]?.url, parts };
    },
  );
  const ip = '198.51.100.30';
  const signing = calls.map((c, i) =>
    asRequest(
      c,
      stamps[i] ?? 0,
      ip,
      `POST /v1/uploads/sign ${(JSON.parse(c.body ?? '{}') as { operation: string }).operation}`,
      browserHeaders(origin),
    ),
  );
  const token = accessToken();
  const polls: WafRequest[] = [];
  for (let t = 0; t <= partCount * partSeconds; t += 5) {
    polls.push({
      at: t,
      ip,
      method: 'GET',
      path: `/${stage}/v1/files/${id}`,
      headers: {
        ...browserHeaders(origin),
        host: new URL(API).host,
        accept: 'application/json, application/problem+json',
        authorization: `Bearer ${token}`,
      },
      what: 'GET /v1/files/{id} (page polling)',
    });
  }
  return [...signing, ...polls].sort((a, b) => a.at - b.at);
}

/** The premium tier at its full rate and burst (usage-plan token bucket), one key, one address, for 3 minutes. */
export async function premiumAtFullRate(stage: StageName, config: StageConfig): Promise<WafRequest[]> {
  const premium = config.api.usagePlans.premium;
  if (!premium) throw new Error('no premium usage plan in the stage config');
  const key = apiKey();
  const [template] = await capture(
    (fetch) =>
      new CitadelClient({ baseUrl: `${API}/${stage}`, token: accessToken(), apiKey: key, fetch }).listFiles({
        limit: 100,
      }),
    () => ({ items: [], nextCursor: null }),
  );
  if (!template) throw new Error('the client sent nothing');
  const requests: WafRequest[] = [];
  for (let i = 0; i < premium.burstLimit; i++)
    requests.push(asRequest(template, 0, '203.0.113.10', 'premium burst', NODE_FETCH_HEADERS));
  const steady = premium.rateLimit * 180;
  for (let k = 1; k <= steady; k++) {
    requests.push(
      asRequest(template, k / premium.rateLimit, '203.0.113.10', 'premium at full rate', NODE_FETCH_HEADERS),
    );
  }
  return requests;
}

const formHeaders = (body: string): Record<string, string> => ({
  ...COGNITO_PAGE_HEADERS,
  host: new URL(USER_POOL_DOMAIN).host,
  'content-type': 'application/x-www-form-urlencoded',
  'content-length': String(body.length),
});
const cognitoApi = (operation: string, body: object): Omit<WafRequest, 'at' | 'ip' | 'what'> => {
  const text = JSON.stringify(body);
  return {
    method: 'POST',
    path: '/',
    headers: {
      'user-agent': SDK_UA,
      host: 'cognito-idp.eu-west-1.amazonaws.com',
      'content-type': 'application/x-amz-json-1.1',
      'x-amz-target': `AWSCognitoIdentityProviderService.${operation}`,
      'content-length': String(text.length),
    },
    body: text,
  };
};

/** A token refresh, the three ways a Citadel browser client can make one (rotation is on). */
function refresh(kind: number, at: number, ip: string, webClient: string): WafRequest {
  if (kind % 10 < 6) {
    const body = new URLSearchParams({
      grant_type: 'refresh_token',
      client_id: webClient,
      refresh_token: refreshToken(),
    }).toString();
    return {
      at,
      ip,
      method: 'POST',
      path: '/oauth2/token',
      headers: formHeaders(body),
      body,
      what: 'refresh: POST /oauth2/token grant_type=refresh_token',
    };
  }
  if (kind % 10 < 9) {
    return {
      at,
      ip,
      what: 'refresh: GetTokensFromRefreshToken',
      ...cognitoApi('GetTokensFromRefreshToken', { ClientId: webClient, RefreshToken: refreshToken() }),
    };
  }
  return {
    at,
    ip,
    what: 'refresh: InitiateAuth REFRESH_TOKEN_AUTH',
    ...cognitoApi('InitiateAuth', {
      AuthFlow: 'REFRESH_TOKEN_AUTH',
      ClientId: webClient,
      AuthParameters: { REFRESH_TOKEN: refreshToken() },
    }),
  };
}

/** One managed-login sign-in (authorization code with PKCE, MFA), with `typos` wrong passwords first. */
function signIn(at: number, ip: string, webClient: string, typos: number): WafRequest[] {
  const host = new URL(USER_POOL_DOMAIN).host;
  const query = new URLSearchParams({
    client_id: webClient,
    response_type: 'code',
    scope: 'openid email profile citadel/files.read citadel/files.write',
    redirect_uri: 'https://app.citadel.example.com/auth/callback',
    state: b64url(24),
    code_challenge: b64url(32),
    code_challenge_method: 'S256',
  }).toString();
  const page = (path: string, t: number): WafRequest => ({
    at: t,
    ip,
    method: 'GET',
    path,
    query,
    headers: { ...COGNITO_PAGE_HEADERS, host, accept: 'text/html' },
    what: `sign-in: GET ${path}`,
  });
  // Cognito does not forward the username or password to WAF: the form as WAF sees it.
  const form = (path: string, t: number, fields: Record<string, string>): WafRequest => {
    const body = new URLSearchParams({ _csrf: randomUUID(), ...fields }).toString();
    return {
      at: t,
      ip,
      method: 'POST',
      path,
      query,
      headers: { ...formHeaders(body), cookie: `XSRF-TOKEN=${randomUUID()}` },
      body,
      what: `sign-in: POST ${path}`,
    };
  };
  const out = [page('/oauth2/authorize', at), page('/login', at + 1)];
  let t = at + 10;
  for (let i = 0; i < typos; i++, t += 10) out.push(form('/login', t, { signInSubmitButton: 'Sign in' }));
  out.push(form('/login', t, { signInSubmitButton: 'Sign in' }));
  out.push(form('/mfa', t + 20, { mfaType: 'SOFTWARE_TOKEN_MFA' }));
  const exchange = new URLSearchParams({
    grant_type: 'authorization_code',
    client_id: webClient,
    code: randomUUID(),
    redirect_uri: 'https://app.citadel.example.com/auth/callback',
    code_verifier: b64url(48),
  }).toString();
  out.push({
    at: t + 22,
    ip,
    method: 'POST',
    path: '/oauth2/token',
    headers: formHeaders(exchange),
    body: exchange,
    what: 'sign-in: POST /oauth2/token grant_type=authorization_code',
  });
  return out;
}

export const OFFICE_USERS = 100;
const OFFICE_HOURS = 2;

/**
 * An office behind one NAT address for two hours: `OFFICE_USERS` users refreshing their tokens a minute before
 * the stage's token lifetime ends (60% at the token endpoint, 30% with GetTokensFromRefreshToken, 10% with
 * InitiateAuth REFRESH_TOKEN_AUTH), and sign-ins at a normal rate: two every 20 minutes, one with a mistyped
 * password.
 */
export function officeBehindOneAddress(config: StageConfig): WafRequest[] {
  const ip = '198.51.100.7';
  const webClient = clientId();
  const period = config.identity.tokenValidityMinutes * 60 - 60;
  const end = OFFICE_HOURS * 3600;
  const out: WafRequest[] = [];
  for (let u = 0; u < OFFICE_USERS; u++) {
    for (let t = (u * period) / OFFICE_USERS; t < end; t += period) out.push(refresh(u, t, ip, webClient));
  }
  for (let t = 60; t < end; t += 1200)
    out.push(...signIn(t, ip, webClient, 1), ...signIn(t + 300, ip, webClient, 0));
  return out.sort((a, b) => a.at - b.at);
}

/**
 * A recovery request as the SPA on `origin` sends it (no token: the route is public), with a body of realistic
 * size.
 */
function recoveryRequest(
  stage: StageName,
  origin: string,
  at: number,
  ip: string,
  what: string,
  path?: string,
): WafRequest {
  const body = JSON.stringify({
    username: `person.${randomBytes(4).toString('hex')}@example.com`,
    password: `${b64url(12)}-Aa1!`,
    code: 'abcd-efgh-jkmn',
  });
  return {
    at,
    ip,
    method: 'POST',
    path: path ?? `/${stage}/v1/auth/recover`,
    headers: {
      ...browserHeaders(origin),
      host: new URL(API).host,
      accept: 'application/json, application/problem+json',
      'content-type': 'application/json',
      'content-length': String(body.length),
    },
    body,
    what,
  };
}

/**
 * People behind one office address who lost their phones, recovering within ten minutes: three succeed at once,
 * two mistype their code first (five attempts in all), plus the office's page polling.
 */
export function officeRecoveries(stage: StageName, origin: string): WafRequest[] {
  const ip = '198.51.100.8';
  const attempts = [0, 40, 41, 200, 320].map((at) =>
    recoveryRequest(stage, origin, at, ip, 'POST /v1/auth/recover'),
  );
  const token = accessToken();
  const polls = Array.from({ length: 120 }, (_, i) => ({
    at: i * 5,
    ip,
    method: 'GET',
    path: `/${stage}/v1/me`,
    headers: {
      ...browserHeaders(origin),
      host: new URL(API).host,
      accept: 'application/json, application/problem+json',
      authorization: `Bearer ${token}`,
    },
    what: 'GET /v1/me',
  }));
  return [...attempts, ...polls].sort((a, b) => a.at - b.at);
}

/**
 * A person adding an SMS and an email factor with a managed-login token, behind the office address: texted and
 * emailed codes (one mistyped), then the factor preference. Token refreshes on the side are not counted.
 */
export function factorEnrolment(config: StageConfig): WafRequest[] {
  const ip = '198.51.100.7';
  const AccessToken = accessToken();
  const call = (at: number, operation: string, body: object): WafRequest => ({
    at,
    ip,
    what: `enrolment: ${operation}`,
    ...cognitoApi(operation, body),
  });
  const out = [
    call(0, 'UpdateUserAttributes', { AccessToken, UserAttributes: [{ Name: 'phone_number', Value: '' }] }),
    call(40, 'VerifyUserAttribute', { AccessToken, AttributeName: 'phone_number', Code: '' }),
    call(70, 'VerifyUserAttribute', { AccessToken, AttributeName: 'phone_number', Code: '' }),
    call(90, 'GetUserAttributeVerificationCode', { AccessToken, AttributeName: 'email' }),
    call(130, 'VerifyUserAttribute', { AccessToken, AttributeName: 'email', Code: '' }),
    call(150, 'SetUserMFAPreference', {
      AccessToken,
      SMSMfaSettings: { Enabled: true, PreferredMfa: false },
      EmailMfaSettings: { Enabled: config.identity.mfaSecondFactors.email, PreferredMfa: false },
    }),
  ];
  for (let t = 0; t < 600; t += 60) out.push(refresh(t / 60, t, ip, clientId()));
  return out.sort((a, b) => a.at - b.at);
}

/**
 * Guessing recovery codes (or passwords) through the API: `count` recoveries from one address within a minute,
 * every other one spelled so API Gateway still routes it (URL-encoded letters, a doubled slash).
 */
export function recoveryGuessing(stage: StageName, count: number, origin: string): WafRequest[] {
  return Array.from({ length: count }, (_, i) =>
    recoveryRequest(
      stage,
      origin,
      (i * 60) / count,
      '192.0.2.70',
      i % 2 === 0 ? 'guess: POST /v1/auth/recover' : 'guess: POST /v1/auth/%72ecover (encoded, //)',
      i % 2 === 0 ? undefined : `/${stage}//v1/auth/%72%65cover`,
    ),
  );
}

export const MACHINE_CLIENTS = 20;

/**
 * Machine clients behind one address fetching client-credentials tokens with the client library: all start
 * within 30 s, then each asks again when its cached token nears expiry (the client caches it until a minute
 * before; machine tokens live the stage's `tokenValidityMinutes`), for two hours.
 */
export async function machineClientTokens(config: StageConfig): Promise<WafRequest[]> {
  const lifetime = config.identity.tokenValidityMinutes * 60;
  const out: WafRequest[] = [];
  for (let c = 0; c < MACHINE_CLIENTS; c++) {
    const [req] = await capture(
      (fetch) =>
        clientCredentialsToken({
          tokenEndpoint: `${USER_POOL_DOMAIN}/oauth2/token`,
          clientId: clientId(),
          clientSecret: b64url(38),
          scopes: ['citadel/files.read', 'citadel/files.write'],
          fetch,
        })(),
      () => ({ access_token: accessToken(), expires_in: lifetime, token_type: 'Bearer' }),
    );
    if (!req) throw new Error('the client sent nothing');
    for (let t = (c * 30) / MACHINE_CLIENTS; t < 7200; t += lifetime - 60)
      out.push(
        asRequest(req, t, '203.0.113.20', 'client credentials: POST /oauth2/token', NODE_FETCH_HEADERS),
      );
  }
  return out.sort((a, b) => a.at - b.at);
}

// Abuse.

/** Password guessing at the managed login: `count` POSTs from one address within a minute. */
export function passwordGuessing(count: number): WafRequest[] {
  const webClient = clientId();
  const post = signIn(0, '192.0.2.66', webClient, 0).find(
    (r) => r.path === '/login' && r.method === 'POST',
  ) as WafRequest;
  return Array.from({ length: count }, (_, i) => ({
    ...post,
    at: (i * 60) / count,
    what: 'password guess: POST /login',
  }));
}

/** Password guessing through the API, `count` calls within a minute: InitiateAuth USER_SRP_AUTH, RespondToAuthChallenge. */
export function srpGuessing(count: number): WafRequest[] {
  const ClientId = clientId();
  return Array.from({ length: count }, (_, i) =>
    i % 2 === 0
      ? {
          at: (i * 60) / count,
          ip: '192.0.2.67',
          what: 'guess: InitiateAuth USER_SRP_AUTH',
          ...cognitoApi('InitiateAuth', {
            AuthFlow: 'USER_SRP_AUTH',
            ClientId,
            AuthParameters: { SRP_A: b64url(384) },
          }),
        }
      : {
          at: (i * 60) / count,
          ip: '192.0.2.67',
          what: 'guess: RespondToAuthChallenge PASSWORD_VERIFIER',
          ...cognitoApi('RespondToAuthChallenge', {
            ChallengeName: 'PASSWORD_VERIFIER',
            ClientId,
            ChallengeResponses: { PASSWORD_CLAIM_SIGNATURE: b64url(32) },
          }),
        },
  );
}

/** `count` password guesses within a minute dressed as refreshes: a second, password `AuthFlow` after `REFRESH_TOKEN_AUTH`. */
export function disguisedGuessing(count: number): WafRequest[] {
  const ClientId = clientId();
  return Array.from({ length: count }, (_, i) => {
    const body = `{"AuthFlow":"REFRESH_TOKEN_AUTH","ClientId":"${ClientId}","AuthFlow":"USER_PASSWORD_AUTH","AuthParameters":{}}`;
    const base = cognitoApi('InitiateAuth', {});
    return {
      ...base,
      at: (i * 60) / count,
      ip: '192.0.2.68',
      body,
      headers: { ...base.headers, 'content-length': String(body.length) },
      what: 'guess: InitiateAuth with two AuthFlow keys',
    };
  });
}

/** A client-credentials flood: `count` token requests from one address within a minute. */
export function clientCredentialsFlood(count: number): WafRequest[] {
  const body = new URLSearchParams({
    grant_type: 'client_credentials',
    scope: 'citadel/files.read',
  }).toString();
  return Array.from({ length: count }, (_, i) => ({
    at: (i * 60) / count,
    ip: '192.0.2.69',
    method: 'POST',
    path: '/oauth2/token',
    headers: {
      ...NODE_FETCH_HEADERS,
      host: new URL(USER_POOL_DOMAIN).host,
      'content-type': 'application/x-www-form-urlencoded',
      'content-length': String(body.length),
      authorization: `Basic ${b64url(60)}`,
    },
    body,
    what: 'client-credentials flood',
  }));
}

/** Bodies at and over the API's limit on the complete route, and a 9 KB body on a small-body route. */
export function oversizeBodies(stage: StageName, limit: number): WafRequest[] {
  const id = randomUUID();
  const headers = {
    ...NODE_FETCH_HEADERS,
    host: new URL(API).host,
    'content-type': 'application/json',
    authorization: `Bearer ${accessToken()}`,
  };
  const padded = (bytes: number) => {
    const head = '{"parts":[],"pad":"';
    return `${head}${'a'.repeat(bytes - head.length - 2)}"}`;
  };
  const at = (i: number, path: string, body: string, what: string): WafRequest => ({
    at: i,
    ip: `192.0.2.${100 + i}`,
    method: 'POST',
    path,
    headers: { ...headers, 'content-length': String(body.length) },
    body,
    what,
  });
  return [
    at(
      0,
      `/${stage}/v1/uploads/${id}/complete`,
      padded(limit),
      `complete with a ${limit}-byte body (the limit)`,
    ),
    at(1, `/${stage}/v1/uploads/${id}/complete`, padded(limit + 1), `complete with a ${limit + 1}-byte body`),
    at(2, `/${stage}/v1/uploads/${id}/complete`, padded(200_000), 'complete with a 200,000-byte body'),
    at(3, `/${stage}/v1/uploads`, padded(9000), 'POST /v1/uploads with a 9,000-byte body'),
  ];
}

/**
 * One address hammering an API: `count` requests within a minute, each with a made-up key if asked; from a page
 * at `origin` when given (a browser's headers), else as a machine client (no Origin).
 */
export function hammering(
  stage: StageName,
  count: number,
  madeUpKeys: boolean,
  origin?: string,
): WafRequest[] {
  const token = accessToken();
  return Array.from({ length: count }, (_, i) => ({
    at: (i * 60) / count,
    ip: origin ? '192.0.2.78' : '192.0.2.77',
    method: 'GET',
    path: `/${stage}/v1/files`,
    query: 'limit=100',
    headers: {
      ...(origin ? browserHeaders(origin) : NODE_FETCH_HEADERS),
      host: new URL(API).host,
      authorization: `Bearer ${token}`,
      ...(madeUpKeys ? { 'x-api-key': apiKey() } : {}),
    },
    what: `${madeUpKeys ? 'GET /v1/files with a made-up key' : 'GET /v1/files'}${origin ? ` from ${origin}` : ''}`,
  }));
}

/** A page at `origin` sending a body over 8 KiB to a small-body route and one over the API limit. */
export function browserOversize(stage: StageName, origin: string, limit: number): WafRequest[] {
  const headers = {
    ...browserHeaders(origin),
    host: new URL(API).host,
    'content-type': 'application/json',
    authorization: `Bearer ${accessToken()}`,
  };
  const body = (bytes: number) => `{"pad":"${'a'.repeat(bytes - 10)}"}`;
  const id = randomUUID();
  return [
    { path: `/${stage}/v1/uploads`, body: body(9000), what: `POST /v1/uploads, 9,000 bytes, from ${origin}` },
    {
      path: `/${stage}/v1/uploads/${id}/complete`,
      body: body(limit + 100),
      what: `complete over the API limit from ${origin}`,
    },
  ].map((r, i) => ({
    at: i,
    ip: `192.0.2.${120 + i}`,
    method: 'POST',
    headers: { ...headers, 'content-length': String(r.body.length) },
    ...r,
  }));
}

/**
 * Pages on origins the stage does not list (a look-alike, another port, a sandboxed frame's `null`, different
 * case), and an allowed origin's preflight, as a browser sends them.
 */
export function foreignOrigins(stage: StageName, allowed: readonly string[]): WafRequest[] {
  const [first = 'https://app.example.com'] = allowed;
  const foreign = [
    'https://attacker.example',
    `${first}.attacker.example`,
    first.replace(/:\/\//, '://evil.'),
    `${first}:8443`.replace(/:(\d+):8443$/, ':8443'),
    'null',
    first.toUpperCase(),
  ].filter((o) => !allowed.includes(o));
  return foreign.map((origin, i) => ({
    at: i,
    ip: '203.0.113.9',
    method: 'GET',
    path: `/${stage}/v1/me`,
    headers: { ...browserHeaders(origin), host: new URL(API).host, authorization: `Bearer ${accessToken()}` },
    what: `GET /v1/me from ${origin}`,
  }));
}

// Scenarios.

export interface Blocked {
  readonly what: string;
  readonly at: number;
  /** The rule that answered. */
  readonly rule: string;
  /** That rule and the rules that counted the request before it (a refusal counted, then answered per origin). */
  readonly by: readonly string[];
  readonly status: number;
  /** The request's `Origin`, if it had one. */
  readonly origin?: string;
  /** WAF's custom response, if the rule sends one. */
  readonly response?: Verdict['response'];
}

export interface ScenarioResult {
  readonly scenario: string;
  readonly acl: ProtectedName;
  readonly requests: number;
  readonly blocked: readonly Blocked[];
  readonly allowed: readonly string[];
  /** Each rate rule's highest count over its window, against its limit. */
  readonly peaks: Readonly<Record<string, string>>;
  /** The largest body sent, bytes. */
  readonly largestBody: number;
}

const RESOURCE: Record<ProtectedName, ProtectedResource> = {
  publicApi: 'API_GATEWAY',
  machineApi: 'API_GATEWAY',
  userPool: 'COGNITO_USER_POOL',
};

/** Runs `requests` in time order through a fresh model of the ACL in front of `acl`. */
export function run(
  discovery: AclDiscovery,
  acl: ProtectedName,
  scenario: string,
  requests: readonly WafRequest[],
): ScenarioResult {
  const found = discovery.acls[acl];
  if (!found) throw new Error(`no web ACL in front of ${acl}`);
  const model = new WebAclModel(`${found.stack}/${found.logicalId}`, found.acl, RESOURCE[acl]);
  const blocked: Blocked[] = [];
  const allowed: string[] = [];
  for (const r of [...requests].sort((a, b) => a.at - b.at)) {
    const v: Verdict = model.evaluate(r);
    if (v.action === 'BLOCK')
      blocked.push({
        what: r.what,
        at: r.at,
        rule: v.rule ?? '(default action)',
        by: [...v.counted, v.rule ?? '(default action)'],
        status: v.status ?? 403,
        ...(r.headers.origin ? { origin: r.headers.origin } : {}),
        ...(v.response ? { response: v.response } : {}),
      });
    else allowed.push(r.what);
  }
  const peaks: Record<string, string> = {};
  for (const [rule, p] of model.ratePeaks) peaks[rule] = `${p.peak}/${p.limit} per ${p.window} s`;
  return {
    scenario,
    acl,
    requests: requests.length,
    blocked,
    allowed,
    peaks,
    largestBody: Math.max(0, ...requests.map((r) => Buffer.byteLength(r.body ?? ''))),
  };
}
