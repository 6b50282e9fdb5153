/** The reference: bare Express 5 answering a small JSON body, with nothing else. Prints `ready <port>`. */
import express from 'express';

const port = Number(process.env.PORT);
const app = express();
app.disable('x-powered-by');
app.get('/healthz', (_req, res) => {
  res.json({ status: 'ok' });
});
const server = app.listen(port, '127.0.0.1', () => process.stdout.write(`ready ${port}\n`));
server.keepAliveTimeout = 65_000;
process.on('SIGTERM', () => server.close(() => process.exit(0)));
