import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import type { OperationDescriptor } from './descriptor.js';
import { openApiDocument, operations, unroutedResponses } from './gen/operations.gen.js';

// ajv-formats is CommonJS: its default export arrives wrapped under ESM.
const addFormats = ((addFormatsModule as unknown as { default?: typeof addFormatsModule }).default ?? addFormatsModule) as unknown as (ajv: Ajv2020) => void;

type Json = Record<string, any>;

/** An answer as it came over the wire, for the judge. */
export interface Answer {
  /** The operation that was called; undefined for a path or method outside the contract. */
  operationId: string | undefined;
  status: number;
  /** Header names in any case. */
  headers: Record<string, string>;
  /** The parsed JSON body, or undefined when there was none. */
  body: unknown;
  /** The raw body text, to tell an empty body from a missing one. */
  text?: string;
  /** The request method: the answer to `HEAD` has the headers of the answer to `GET`, and no body. */
  method?: string;
}

/** One way an answer breaks the contract. */
export interface Violation {
  rule: 'status' | 'content-type' | 'body' | 'header' | 'undeclared-header' | 'problem' | 'judge';
  message: string;
}

export interface JudgeOptions {
  /**
   * Headers an answer may carry without the contract declaring them:
   * HTTP's own, CORS, and security headers. Give an empty list to judge
   * declared headers only.
   */
  transportHeaders?: readonly string[];
  /** Whether to report headers that are neither declared nor transport headers. Default: true. */
  undeclaredHeaders?: boolean;
}

/** HTTP's own headers, CORS, and the security headers a server may add to any answer. */
export const TRANSPORT_HEADERS: readonly string[] = [
  'date',
  'connection',
  'keep-alive',
  'content-length',
  'content-type',
  'transfer-encoding',
  'vary',
  'access-control-allow-origin',
  'access-control-allow-credentials',
  'access-control-expose-headers',
  'access-control-allow-methods',
  'access-control-allow-headers',
  'access-control-max-age',
  'content-security-policy',
  'cross-origin-opener-policy',
  'cross-origin-resource-policy',
  'cross-origin-embedder-policy',
  'origin-agent-cluster',
  'referrer-policy',
  'strict-transport-security',
  'x-content-type-options',
  'x-dns-prefetch-control',
  'x-download-options',
  'x-frame-options',
  'x-permitted-cross-domain-policies',
  'x-xss-protection',
];

interface CompiledResponse {
  contentType: string | undefined;
  body: ValidateFunction | undefined;
  headers: { name: string; required: boolean; validate: ValidateFunction; numeric: boolean }[];
}

/**
 * Judges answers against the contract: is the status declared for the
 * operation, the media type the declared one, the body valid against its
 * schema (for a problem: the codes of that status only, and `status` equal
 * to the HTTP status), each required header present and each declared
 * header valid, and no other header undeclared? Schemas are compiled once,
 * on first use.
 */
export class ContractJudge {
  readonly #ajv: Ajv2020;
  readonly #byId: Map<string, OperationDescriptor>;
  readonly #compiled = new Map<string, CompiledResponse>();
  readonly #transport: Set<string>;
  readonly #reportUndeclared: boolean;

  constructor(options: JudgeOptions = {}) {
    this.#ajv = new Ajv2020({ strict: false, allErrors: true, validateFormats: true });
    addFormats(this.#ajv);
    this.#ajv.addSchema(openApiDocument as Json, 'contract');
    this.#byId = new Map((operations as readonly OperationDescriptor[]).map((operation) => [operation.operationId, operation]));
    this.#transport = new Set((options.transportHeaders ?? TRANSPORT_HEADERS).map((name) => name.toLowerCase()));
    this.#reportUndeclared = options.undeclaredHeaders ?? true;
  }

  /** Every way the answer breaks the contract; empty when it keeps it. */
  judge(answer: Answer): Violation[] {
    const declared = this.#declaration(answer.operationId, answer.status);
    if (!declared) {
      const where = answer.operationId ?? 'a path or method outside the contract';
      return [{ rule: 'status', message: `${answer.status} is not a status ${where} declares` }];
    }
    const violations: Violation[] = [];
    const headers = Object.fromEntries(Object.entries(answer.headers).map(([name, value]) => [name.toLowerCase(), value]));
    const contentType = headers['content-type']?.split(';', 1)[0]?.trim();
    if (answer.method?.toUpperCase() === 'HEAD') {
      // No body to judge, only headers.
    } else if (declared.contentType === undefined) {
      if (answer.text !== undefined ? answer.text !== '' : answer.body !== undefined) violations.push({ rule: 'body', message: `${answer.status} declares no body, and one came` });
    } else if (contentType !== declared.contentType) {
      violations.push({ rule: 'content-type', message: `${answer.status} declares ${declared.contentType}, not ${contentType ?? 'no content type'}` });
    } else if (declared.body && !declared.body(answer.body)) {
      violations.push(...(declared.body.errors ?? []).map((error) => ({ rule: 'body' as const, message: `body${error.instancePath} ${error.message}` })));
    }
    if (answer.method?.toUpperCase() !== 'HEAD' && declared.contentType === 'application/problem+json' && (answer.body as Json | undefined)?.status !== answer.status) {
      violations.push({ rule: 'problem', message: `the problem says status ${(answer.body as Json | undefined)?.status}, the answer is ${answer.status}` });
    }
    for (const header of declared.headers) {
      const value = headers[header.name.toLowerCase()];
      if (value === undefined) {
        if (header.required) violations.push({ rule: 'header', message: `${header.name} is required on ${answer.status}` });
        continue;
      }
      const candidate = header.numeric && /^-?\d+(\.\d+)?$/.test(value) ? Number(value) : value;
      // The value is not quoted: a header may carry a secret (Set-Cookie, a Location with a code).
      if (!header.validate(candidate)) violations.push({ rule: 'header', message: `${header.name} on ${answer.status} ${header.validate.errors?.[0]?.message ?? 'is invalid'}` });
    }
    if (this.#reportUndeclared) {
      const known = new Set(declared.headers.map((header) => header.name.toLowerCase()));
      for (const name of Object.keys(headers)) {
        if (!known.has(name) && !this.#transport.has(name)) violations.push({ rule: 'undeclared-header', message: `${name} is not declared on ${answer.status}` });
      }
    }
    return violations;
  }

  /** The declared statuses of an operation, or of what lies outside the contract. */
  statuses(operationId: string | undefined): number[] {
    const responses = operationId === undefined ? unroutedResponses : this.#byId.get(operationId)?.responses;
    return Object.keys(responses ?? {}).map(Number);
  }

  #declaration(operationId: string | undefined, status: number): CompiledResponse | undefined {
    const key = `${operationId ?? ''} ${status}`;
    let compiled = this.#compiled.get(key);
    if (compiled) return compiled;
    const pointer = operationId === undefined ? unroutedPointer(status) : this.#operationPointer(operationId, status);
    if (!pointer) return undefined;
    const response = this.#resolve(pointer);
    const contentType = Object.keys(response.node.content ?? {})[0];
    const bodyPointer = contentType ? `${response.pointer}/content/${escape(contentType)}/schema` : undefined;
    compiled = {
      contentType,
      body: bodyPointer ? this.#ajv.compile({ $ref: `contract#${bodyPointer}` }) : undefined,
      headers: Object.entries<Json>(response.node.headers ?? {}).map(([name, header]) => {
        const resolved = this.#resolve(`${response.pointer}/headers/${escape(name)}`);
        const schema = this.#resolve(`${resolved.pointer}/schema`);
        return {
          name,
          required: resolved.node.required === true,
          numeric: schema.node.type === 'integer' || schema.node.type === 'number',
          validate: this.#ajv.compile({ $ref: `contract#${schema.pointer}` }),
        };
      }),
    };
    this.#compiled.set(key, compiled);
    return compiled;
  }

  #operationPointer(operationId: string, status: number): string | undefined {
    const operation = this.#byId.get(operationId);
    if (!operation || !(status in operation.responses)) return undefined;
    return `/paths/${escape(operation.path)}/${operation.method}/responses/${status}`;
  }

  /** Follows `$ref`s from a pointer into the document: the node, and the pointer it really lives at. */
  #resolve(pointer: string): { node: Json; pointer: string } {
    let at = pointer;
    let node = nodeAt(at);
    for (let hops = 0; typeof node?.$ref === 'string' && hops < 10; hops += 1) {
      at = (node.$ref as string).replace(/^#/, '');
      node = nodeAt(at);
    }
    return { node: node ?? {}, pointer: at };
  }
}

function unroutedPointer(status: number): string | undefined {
  return status in unroutedResponses ? `/x-unrouted-responses/${status}` : undefined;
}

function nodeAt(pointer: string): Json | undefined {
  return pointer
    .split('/')
    .slice(1)
    .map((part) => part.replace(/~1/g, '/').replace(/~0/g, '~'))
    .reduce<Json | undefined>((node, key) => node?.[key], openApiDocument as Json);
}

/** JSON Pointer escaping of one segment. */
function escape(segment: string): string {
  return segment.replace(/~/g, '~0').replace(/\//g, '~1');
}
