import { operations, securitySchemes } from './gen/operations.gen.js';

/** One operation of the contract, as data (`operations`). */
export interface OperationDescriptor {
  operationId: string;
  method: 'get' | 'put' | 'post' | 'delete' | 'patch' | 'head' | 'options' | 'trace';
  /** The path template, for example `/v1/auth/oidc/{provider}/start`. */
  path: string;
  parameters: readonly { name: string; in: 'path' | 'query' | 'header' | 'cookie'; required: boolean; problemCode?: string }[];
  body: { required: boolean; mediaTypes: readonly string[] } | null;
  /** Any one requirement authorises the operation; each lists the schemes it needs together. Empty: public. */
  security: readonly (readonly string[])[];
  responses: Readonly<Record<number, ResponseDescriptor>>;
  /** Whether query parameters the operation does not declare are ignored or refused (`x-unknown-query-parameters`). */
  unknownQueryParameters: 'ignore' | 'refuse';
}

/** One declared response: its media type, its headers, and for a problem the codes it may carry. */
export interface ResponseDescriptor {
  contentType?: string;
  headers: readonly { name: string; required: boolean }[];
  problemCodes?: readonly string[];
}

/** How a security scheme's credential is sent, and the problem code of its 401 (`x-problem-code`). */
export interface SecuritySchemeDescriptor {
  type: string;
  in: string;
  /** The header, query parameter or cookie that carries it. */
  parameter: string;
  /** For `http` schemes, for example `bearer`. */
  scheme?: string;
  problemCode: string;
}

// The generated data has this shape: a change to the generator that breaks it fails to compile here.
operations satisfies readonly OperationDescriptor[];
securitySchemes satisfies Record<string, SecuritySchemeDescriptor>;
