import type { DefinePlugin, Plugin } from '@hey-api/openapi-ts';

export type UserConfig = { name: 'operations' } & Plugin.Hooks & Plugin.UserExports;

export type Config = { name: 'operations' } & Plugin.Hooks & Plugin.Exports;

/**
 * `operations`: the contract as data, for code that works from it at run
 * time (the server kit's router, the mock, the contract tests): each
 * operation's method, path, parameters, body, security and responses, with
 * the problem codes and headers each response declares.
 */
export type OperationsPlugin = DefinePlugin<UserConfig, Config>;
