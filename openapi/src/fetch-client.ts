/** The fetch client the generated SDK calls through. */
export { createClient, createConfig, type Client, type Config, type RequestResult } from './gen/client/index.js';
