import type { ContractJudge, Answer, Violation } from '@aimable/auth-openapi/judge';

/** An answer of a handler or a problem that the contract does not declare: answered as a 500. */
export class ContractViolation extends Error {
  constructor(
    readonly operationId: string | undefined,
    readonly status: number,
    readonly violations: string[],
  ) {
    super(`${operationId ?? 'an unrouted request'} answered ${status}, which breaks the contract: ${violations.join('; ')}`);
    this.name = 'ContractViolation';
  }
}

/**
 * The contract's verdict on an answer, as a `ContractViolation`, or undefined when it keeps to it.
 * A judge that fails is a violation too, so that the answer still leaves as a problem.
 */
export function violationOf(judge: ContractJudge, answer: Answer): ContractViolation | undefined {
  let violations: Violation[];
  try {
    violations = judge.judge(answer);
  } catch (error) {
    violations = [{ rule: 'judge', message: `the answer could not be judged: ${error instanceof Error ? error.message : String(error)}` }];
  }
  return violations.length > 0 ? new ContractViolation(answer.operationId, answer.status, violations.map((v) => v.message)) : undefined;
}
