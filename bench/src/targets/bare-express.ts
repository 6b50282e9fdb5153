/**
 * The reference: bare Express 5 answering a small JSON body, with nothing
 * else, on `app.listen`. With BENCH_KIT_SERVER=1 the same app on the kit's
 * `createHttpServer`, as the auth server listens: what that alone is worth.
 * Prints `ready <port>`.
 */
import { createHttpServer } from '@aimable/auth-server-kit';
import express from 'express';

const port = Number(process.env.PORT);
const app = express();
app.disable('x-powered-by');
app.get('/healthz', (_req, res) => {
  res.json({ status: 'ok' });
});
const ready = () => process.stdout.write(`ready ${port}\n`);
const server = process.env.BENCH_KIT_SERVER === '1' ? createHttpServer(app).listen(port, '127.0.0.1', ready) : app.listen(port, '127.0.0.1', ready);
server.keepAliveTimeout = 65_000;
process.on('SIGTERM', () => server.close(() => process.exit(0)));
