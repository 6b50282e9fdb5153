export { ContractBreach, fuzz, type FuzzOptions, type FuzzReport, type Pool, type ReceivedAnswer, type SentRequest } from './fuzz.js';
export { loginAtProvider, LoginNeedsCredentials } from './login.js';
export { junit, summary } from './report.js';
export { MUTATIONS, operationsOf, poolName, type Mutation } from './requests.js';
export { runContractTests, type CheckResult, type ContractTestOptions, type ContractTestReport, type Outcome } from './run.js';
