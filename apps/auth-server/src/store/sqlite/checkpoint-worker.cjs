// The checkpoint worker (`Checkpointer`): its own connection to the database file, which answers each message with
// a checkpoint of the write-ahead log in the mode asked for. `synchronous = FULL`: the database file is synced before
// the log's frames may be overwritten. No busy timeout: a RESTART runs while the store's connection is held, so only
// another process can keep it from finishing, and then it reports `busy` at once rather than hold the store while it
// waits. CommonJS, and plain JavaScript: a worker thread runs this file as it is, from src/ under the tests and from
// dist/ in the package (the build copies it).
'use strict';
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);

const db = new Database(workerData.file, { fileMustExist: true });
db.pragma('synchronous = FULL');
db.pragma('busy_timeout = 0');

parentPort.on('message', (message) => {
  if (message.close) {
    db.close();
    parentPort.close();
    return;
  }
  try {
    const mode = message.mode === 'RESTART' ? 'RESTART' : 'PASSIVE';
    parentPort.postMessage({ id: message.id, result: db.pragma(`wal_checkpoint(${mode})`)[0] });
  } catch (error) {
    parentPort.postMessage({ id: message.id, error: { message: String(error && error.message), code: error && error.code } });
  }
});
