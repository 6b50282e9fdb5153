import type { DefinePlugin, Plugin } from '@hey-api/openapi-ts';

export type UserConfig = { name: 'handlers' } & Plugin.Hooks &
  Plugin.UserExports & {
    /** The module the operation types come from (`@hey-api/typescript`'s names: `<Op>Data`, `<Op>Responses`, `<Op>Errors`). */
    typesModule: string;
    /** The module that exports `HandlerContext`, relative to the generated file. */
    contextModule: string;
  };

export type Config = { name: 'handlers' } & Plugin.Hooks &
  Plugin.Exports & {
    typesModule: string;
    contextModule: string;
  };

/**
 * `handlers`: the typed server skeleton of a contract. For each operation,
 * the input its handler receives (validated, with the caller resolved by
 * the security step), the exact union of answers it may give, and the
 * problems it may throw; and the `Handlers` interface, one method per
 * operation.
 */
export type HandlersPlugin = DefinePlugin<UserConfig, Config>;
