// Native dependencies (better-sqlite3) compile with node-gyp, which needs
// Node's headers. pnpm passes only a few environment variables to build
// scripts, so point node-gyp at the headers installed with Node here,
// instead of letting it download them (machines may have no internet).
module.exports = {
  hooks: {
    updateConfig(config) {
      config.extraEnv = { ...config.extraEnv, npm_config_nodedir: process.env.npm_config_nodedir || '/usr' };
      return config;
    },
  },
};
