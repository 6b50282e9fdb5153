export { ContractBreach, fuzz, type FuzzOptions, type FuzzReport, type Pool, type ReceivedAnswer, type SentRequest } from './fuzz.js';
export { MUTATIONS, operationsOf, poolName, type Mutation } from './requests.js';
