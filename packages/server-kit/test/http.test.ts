import http, { type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express, { type Express } from 'express';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createHttpServer } from '../src/index.js';
import { writeAnswer } from '../src/answer.js';

/** One app, with what Express adds to requests and responses in use, served by `app.listen` and by `createHttpServer`. */
function sampleApp(): Express {
  const app = express();
  app.set('trust proxy', 'loopback');
  app.get('/who', (req, res) => {
    res.json({
      ip: req.ip,
      protocol: req.protocol,
      path: req.path,
      query: req.query,
      host: req.hostname,
      app: req.app === app && res.app === app,
      nodeTypes: req instanceof http.IncomingMessage && res instanceof http.ServerResponse,
      locals: typeof res.locals,
      accepts: req.accepts(['text/plain', 'application/json']),
    });
  });
  app.get('/answer', (req, res) => {
    res.setHeader('Vary', 'Origin');
    writeAnswer(res, 201, { Vary: 'Accept', 'X-One': '1', 'Set-Cookie': ['a=1', 'b=2'] }, { contentType: 'text/plain; charset=utf-8', text: 'héllo' });
  });
  app.get('/empty', (_req, res) => writeAnswer(res, 204, { 'Cache-Control': 'no-store', 'Content-Type': 'text/plain', 'Content-Length': '5' }, { contentType: 'text/plain', text: 'stray' }));
  app.get('/moved', (_req, res) => writeAnswer(res, 302, { Location: '/who', 'Content-Length': '99' }));
  return app;
}

async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

let express5: Server;
let prebuilt: Server;
let viaListen: string;
let viaKit: string;

beforeAll(async () => {
  express5 = http.createServer(sampleApp());
  prebuilt = createHttpServer(sampleApp());
  [viaListen, viaKit] = await Promise.all([listen(express5), listen(prebuilt)]);
});

afterAll(async () => {
  await Promise.all([express5, prebuilt].map((server) => new Promise((resolve) => server.close(resolve))));
});

describe('createHttpServer', () => {
  test('When a request comes in, then Express sees it as app.listen would have made it: its app, its ip behind a trusted proxy, its query and negotiation', async () => {
    const headers = { 'X-Forwarded-For': '203.0.113.7', 'X-Forwarded-Proto': 'https', Accept: 'application/json' };
    const [plain, kit] = await Promise.all([viaListen, viaKit].map(async (base) => (await fetch(`${base}/who?a=1&b=x`, { headers })).json()));
    expect(kit).toEqual({
      ip: '203.0.113.7',
      protocol: 'https',
      path: '/who',
      query: { a: '1', b: 'x' },
      host: '127.0.0.1',
      app: true,
      nodeTypes: true,
      locals: 'object',
      accepts: 'application/json',
    });
    expect(kit).toEqual(plain);
  });

  test('When requests share a keep-alive connection, then each is its own request and response', async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const ips = await Promise.all(
      ['198.51.100.1', '198.51.100.2', '198.51.100.3'].map(
        (ip) =>
          new Promise<string>((resolve, reject) => {
            http
              .get(`${viaKit}/who`, { agent, headers: { 'X-Forwarded-For': ip } }, (res) => {
                let text = '';
                res.on('data', (chunk: Buffer) => (text += chunk.toString()));
                res.on('end', () => resolve((JSON.parse(text) as { ip: string }).ip));
              })
              .on('error', reject);
          }),
      ),
    );
    agent.destroy();
    expect(ips).toEqual(['198.51.100.1', '198.51.100.2', '198.51.100.3']);
  });
});

describe('writeAnswer', () => {
  test('When an answer has a body, then it leaves with its status, its headers, Vary added to, and the byte length of its UTF-8 text', async () => {
    const response = await fetch(`${viaKit}/answer`);
    expect(response.status).toBe(201);
    expect(response.headers.get('vary')).toBe('Origin, Accept');
    expect(response.headers.get('x-one')).toBe('1');
    expect(response.headers.getSetCookie()).toEqual(['a=1', 'b=2']);
    expect(response.headers.get('content-type')).toBe('text/plain; charset=utf-8');
    expect(response.headers.get('content-length')).toBe('6');
    expect(response.headers.get('etag')).toBeNull();
    expect(await response.text()).toBe('héllo');
  });

  test('When the request is a HEAD, then the headers leave, the body does not', async () => {
    const response = await fetch(`${viaKit}/answer`, { method: 'HEAD' });
    expect(response.status).toBe(201);
    expect(response.headers.get('content-length')).toBe('6');
    expect(await response.text()).toBe('');
  });

  test('When the status allows no body (204), then none leaves, nor any content header, whatever the handler gave', async () => {
    const response = await fetch(`${viaKit}/empty`);
    expect(response.status).toBe(204);
    expect(response.headers.get('cache-control')).toBe('no-store');
    expect(response.headers.get('content-type')).toBeNull();
    expect(response.headers.get('content-length')).toBeNull();
    expect(await response.text()).toBe('');
  });

  test('When an answer that could have a body has none (a redirect), then it says Content-Length: 0, not an empty chunked body', async () => {
    const response = await fetch(`${viaKit}/moved`, { redirect: 'manual' });
    expect(response.status).toBe(302);
    expect(response.headers.get('location')).toBe('/who');
    expect(response.headers.get('content-length')).toBe('0');
    expect(response.headers.get('transfer-encoding')).toBeNull();
  });
});
