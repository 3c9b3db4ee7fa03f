// One pass through what users do, through the SDK generated from the committed spec only.
//
// Environment: PODIUM_API_URL (the API's base URL), PODIUM_SERVER_LOG (that server's log, where a
// development server prints login links), PODIUM_LEGACY_PATH (`/legacy/rec…` of a record that
// exists) and optionally PODIUM_LEGACY_LOCATION (the canonical path it must redirect to).
// Prints one line per step; exits 1 at the first step that fails.

import { readFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';

import { type Client, createClient, createConfig } from './client/client/index.js';
import {
  attendEvent,
  castVotes,
  type ClientOptions,
  createEvent,
  createProject,
  createUser,
  type ErrorBody,
  type EventPrivate,
  listEventProjects,
  type ProjectPrivate,
  requestLogin,
  resolveLegacyId,
  updateEvent,
  type UserPrivate,
  verifyLogin,
} from './client/index.js';

const LOGIN_LINK_WAIT_MS = 10_000;
// What a development server logs instead of mailing (src/podium/services/mail.py).
const LOGIN_LINK_LINE = /LOGIN LINK for (\S+): (\S+)/g;
const LEGACY_PATH = /^\/legacy\/(rec[A-Za-z0-9]{14})$/;
const CANONICAL_PATH = /^\/(users\/u|events\/e|projects\/p)_[A-Za-z0-9]{7}$/;

class StepFailed extends Error {}

/** What every generated SDK function resolves to when it does not throw. */
type SdkResult<TData, TError> = ({ data: TData; error: undefined } | { data: undefined; error: TError }) & {
  request: Request;
  response: Response;
};

interface Account {
  label: string;
  user: UserPrivate;
  client: Client;
}

function requiredEnv(name: string): string {
  const value = process.env[name];
  if (value === undefined || value === '') {
    console.log(`FAIL configuration: environment variable ${name} is not set`);
    process.exit(2);
  }
  return value;
}

function check(condition: boolean, message: string): asserts condition {
  if (!condition) {
    throw new StepFailed(message);
  }
}

function isErrorBody(value: unknown): value is ErrorBody {
  if (typeof value !== 'object' || value === null || !('error' in value)) {
    return false;
  }
  const detail: unknown = value.error;
  return typeof detail === 'object' && detail !== null && 'code' in detail && typeof detail.code === 'string';
}

function describeError(error: unknown): string {
  if (isErrorBody(error)) {
    return `${error.error.code}: ${error.error.message}`;
  }
  if (error instanceof Error) {
    return error.cause instanceof Error ? `${error.message}: ${error.cause.message}` : error.message;
  }
  return JSON.stringify(error);
}

function statusOf(result: SdkResult<unknown, unknown>): string {
  // On a network failure the client resolves with no response, whatever its type says.
  const response: Response | undefined = result.response;
  return response === undefined ? 'nothing' : String(response.status);
}

function expectData<TData, TError>(call: string, result: SdkResult<TData, TError>, status: number): TData {
  const { data, error } = result;
  if (error !== undefined || data === undefined || result.response.status !== status) {
    const why = error === undefined ? '' : ` (${describeError(error)})`;
    throw new StepFailed(`${call} answered ${statusOf(result)}${why}; expected ${status}`);
  }
  return data;
}

function expectError<TData>(call: string, result: SdkResult<TData, ErrorBody>, status: number, code: string): ErrorBody {
  if (result.error === undefined || result.response.status !== status) {
    const why = result.error === undefined ? '' : ` (${describeError(result.error)})`;
    throw new StepFailed(`${call} answered ${statusOf(result)}${why}; expected ${status} ${code}`);
  }
  check(result.error.error.code === code, `${call} answered code ${result.error.error.code}; expected ${code}`);
  return result.error;
}

async function step<T>(name: string, action: () => Promise<T>, detail: (value: T) => string): Promise<T> {
  const started = performance.now();
  try {
    const value = await action();
    console.log(`PASS ${name}: ${detail(value)} (${Math.round(performance.now() - started)} ms)`);
    return value;
  } catch (failure) {
    const message = failure instanceof Error ? failure.message : String(failure);
    console.log(`FAIL ${name}: ${message}`);
    process.exit(1);
  }
}

const baseUrl = requiredEnv('PODIUM_API_URL');
const serverLog = requiredEnv('PODIUM_SERVER_LOG');
const legacyPath = requiredEnv('PODIUM_LEGACY_PATH');
const expectedLocation = process.env['PODIUM_LEGACY_LOCATION'];
const stamp = `${Date.now().toString(36)}${Math.floor(Math.random() * 1e6).toString(36)}`;
const anonymous = createClient(createConfig<ClientOptions>({ baseUrl }));

async function lastLoginLink(email: string): Promise<string | undefined> {
  let text: string;
  try {
    text = await readFile(serverLog, 'utf8');
  } catch {
    return undefined;
  }
  let link: string | undefined;
  for (const [, address, url] of text.matchAll(LOGIN_LINK_LINE)) {
    if (address?.toLowerCase() === email.toLowerCase()) {
      link = url;
    }
  }
  return link;
}

async function waitForLoginLink(email: string): Promise<string> {
  const deadline = performance.now() + LOGIN_LINK_WAIT_MS;
  for (;;) {
    const link = await lastLoginLink(email);
    if (link !== undefined) {
      return link;
    }
    check(performance.now() < deadline, `no 'LOGIN LINK for ${email}' line in ${serverLog} after ${LOGIN_LINK_WAIT_MS} ms`);
    await sleep(100);
  }
}

async function signUp(label: string): Promise<UserPrivate> {
  const email = `ts-flow-${stamp}-${label.toLowerCase()}@example.com`;
  const user = expectData(
    'POST /users/',
    await createUser({ client: anonymous, body: { email, first_name: 'Flow', last_name: label } }),
    201,
  );
  check(user.email === email, `POST /users/ answered the user ${user.email}, not ${email}`);
  check(user.id.startsWith('u_'), `POST /users/ answered the id ${user.id}`);
  return user;
}

async function logIn(label: string, user: UserPrivate): Promise<Account> {
  expectData('POST /request-login', await requestLogin({ client: anonymous, body: { email: user.email } }), 202);
  const link = await waitForLoginLink(user.email);
  const token = new URL(link).searchParams.get('token');
  check(token !== null && token !== '', `the login link for ${user.email} carries no token: ${link}`);
  const session = expectData('GET /verify', await verifyLogin({ client: anonymous, query: { token } }), 200);
  check(session.token_type === 'bearer', `GET /verify answered token type ${String(session.token_type)}`);
  check(session.user.id === user.id, `GET /verify logged in ${session.user.id}, not ${user.id}`);
  const client = createClient(createConfig<ClientOptions>({ baseUrl, auth: session.access_token }));
  return { label, user, client };
}

async function submitProject(account: Account, event: EventPrivate): Promise<ProjectPrivate> {
  const site = `https://example.com/ts-flow/${stamp}/${account.label.toLowerCase()}`;
  const project = expectData(
    `POST /projects/ as ${account.label}`,
    await createProject({
      client: account.client,
      body: {
        name: `TS flow project ${account.label} ${stamp}`,
        repo: `${site}/repo`,
        image_url: `${site}/image.png`,
        demo: `${site}/demo`,
        description: 'Created by the TypeScript client flow.',
        hours_spent: 1,
        event: event.id,
      },
    }),
    201,
  );
  check(project.event_id === event.id, `project ${project.id} is in ${project.event_id}, not ${event.id}`);
  check(project.owner.id === account.user.id, `project ${project.id} is owned by ${project.owner.id}`);
  return project;
}

const userA = await step('sign up A', () => signUp('A'), (user) => user.id);
const a = await step('log in A', () => logIn('A', userA), (account) => `token for ${account.user.email}`);

const event = await step(
  'create event',
  async () => {
    const created = expectData(
      'POST /events/',
      await createEvent({ client: a.client, body: { name: `TS flow ${stamp}`, description: 'TypeScript client flow' } }),
      201,
    );
    check(created.owner_id === a.user.id, `event ${created.id} is owned by ${created.owner_id}, not A`);
    check(created.join_code !== '', `event ${created.id} has no join code`);
    return created;
  },
  (created) => `${created.id} (join code ${created.join_code})`,
);

const b = await step(
  'sign up and log in B',
  async () => logIn('B', await signUp('B')),
  (account) => account.user.id,
);

for (const account of [b, a]) {
  await step(
    `attend event (${account.label})`,
    async () => {
      const joined = expectData(
        `POST /events/attend as ${account.label}`,
        await attendEvent({ client: account.client, query: { join_code: event.join_code.toLowerCase() } }),
        200,
      );
      check(joined.id === event.id, `${account.label} joined ${joined.id}, not ${event.id}`);
      return joined;
    },
    (joined) => `${account.label} joined ${joined.id}`,
  );
}

const [projectA, projectB] = await step(
  'create a project each',
  async () => [await submitProject(a, event), await submitProject(b, event)] as const,
  ([ofA, ofB]) => `A: ${ofA.id}, B: ${ofB.id}`,
);

await step(
  'open voting (A)',
  async () => {
    const updated = expectData(
      `PUT /events/${event.id}`,
      await updateEvent({
        client: a.client,
        path: { event_id: event.id },
        body: { votable: true, leaderboard_enabled: true },
      }),
      200,
    );
    check(updated.votable && updated.leaderboard_enabled, `PUT /events/${event.id} left voting or the leaderboard off`);
    return updated;
  },
  (updated) => `votable, leaderboard enabled, ${updated.max_votes_per_user} vote(s) each`,
);

const votes = await step(
  "vote (B for A's project)",
  async () => {
    const cast = expectData(
      'POST /events/vote as B',
      await castVotes({ client: b.client, body: { event: event.id, projects: [projectA.id] } }),
      201,
    );
    const voted = cast.votes.map((vote) => vote.project_id);
    check(voted.length === 1 && voted[0] === projectA.id, `POST /events/vote stored votes for ${voted.join(', ')}`);
    check(cast.event_id === event.id, `the votes are in ${cast.event_id}, not ${event.id}`);
    return cast;
  },
  (cast) => `${cast.votes.map((vote) => vote.id).join(', ')}, ${cast.votes_remaining} remaining`,
);

await step(
  'read leaderboard',
  async () => {
    const ranked = expectData(
      `GET /events/${event.id}/projects?leaderboard=true`,
      await listEventProjects({ client: a.client, path: { event_id: event.id }, query: { leaderboard: true } }),
      200,
    );
    const standings = ranked.map((project) => `${project.id}=${String(project.points)}`).join(', ');
    const expected = `${projectA.id}=1, ${projectB.id}=0`;
    check(standings === expected, `leaderboard is [${standings}], expected [${expected}]`);
    return ranked;
  },
  (ranked) => `A's project first with ${String(ranked[0]?.points)} point (${ranked.length} projects)`,
);

await step(
  'follow legacy redirect',
  async () => {
    const airtableId = LEGACY_PATH.exec(legacyPath)?.[1];
    check(airtableId !== undefined, `PODIUM_LEGACY_PATH ${legacyPath} is not /legacy/rec…`);
    // The spec declares the 308 without a body, so the SDK reports it as an (empty) error;
    // Node's fetch hands a manual redirect over as is, Location header included.
    const redirect = await resolveLegacyId({ client: anonymous, path: { airtable_id: airtableId }, redirect: 'manual' });
    check(statusOf(redirect) === '308', `GET ${legacyPath} answered ${statusOf(redirect)}; expected 308`);
    const location = redirect.response.headers.get('location') ?? '';
    if (expectedLocation !== undefined && expectedLocation !== '') {
      check(location === expectedLocation, `GET ${legacyPath} redirected to ${location}, not ${expectedLocation}`);
    } else {
      check(CANONICAL_PATH.test(location), `GET ${legacyPath} redirected to ${location}, not a canonical path`);
    }
    const landed = await resolveLegacyId({ client: anonymous, path: { airtable_id: airtableId } });
    check(statusOf(landed) === '200', `following GET ${legacyPath} answered ${statusOf(landed)}; expected 200`);
    const landedPath = new URL(landed.response.url).pathname;
    check(
      landed.response.redirected && landedPath === location,
      `following GET ${legacyPath} ended at ${landedPath}; expected ${location}`,
    );
    return location;
  },
  (location) => `${legacyPath} → 308 ${location} → 200`,
);

await step(
  'read typed error codes',
  async () => {
    const again = expectError(
      'POST /events/attend again as B',
      await attendEvent({ client: b.client, query: { join_code: event.join_code } }),
      409,
      'already_attending',
    );
    const revote = expectError(
      'POST /events/vote again as B',
      await castVotes({ client: b.client, body: { event: event.id, projects: [projectA.id] } }),
      409,
      'already_voted',
    );
    return [again.error.code, revote.error.code];
  },
  (codes) => `409 ${codes.join(', 409 ')}`,
);

console.log(`flow complete: event ${event.id}, vote ${votes.votes[0]?.id ?? '?'}`);
